"""The id of this process, without a system call.

    process_id()   # == os.getpid()

`os.getpid()` is a system call on Linux (glibc stopped caching it years ago): 1.4 µs on
the virtual machines this is measured on. The hot paths ask for it to notice that they run
in a child forked from the process that set them up (a server's worker), several times a
request: the metrics' files (ops.metrics), the events' wake-up thread (events.wakeup).
(Record ids draw their process bytes anew at the fork itself, records.ids.) This answers
from memory; the value is set again in every forked child by the fork itself
(`os.register_at_fork`), before any code of the child runs.
"""

import os

_current = os.getpid()


def _forked() -> None:
    global _current
    _current = os.getpid()


os.register_at_fork(after_in_child=_forked)


def process_id() -> int:
    return _current
