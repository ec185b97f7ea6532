"""Record ids: 24 lowercase hex characters in MongoDB's ObjectId layout (4 bytes of Unix
time, 5 random bytes fixed per process, a 3-byte counter), so ordering by `_id` is
creation order and ids made in one second by one process are still ordered."""

import itertools
import os
import re
import threading
import time

_ID_RE = re.compile(r"^[0-9a-f]{24}$")
_process_bytes = os.urandom(5)
_counter = itertools.count(int.from_bytes(os.urandom(3), "big"))
_lock = threading.Lock()


def _forked() -> None:
    global _process_bytes
    _process_bytes = os.urandom(5)  # a forked worker must not repeat its parent's ids


os.register_at_fork(after_in_child=_forked)


def new_object_id(at: float | None = None) -> str:
    with _lock:
        count = next(_counter) & 0xFFFFFF
    seconds = int(time.time() if at is None else at) & 0xFFFFFFFF
    return (seconds.to_bytes(4, "big") + _process_bytes + count.to_bytes(3, "big")).hex()


def is_object_id(value) -> bool:
    return isinstance(value, str) and bool(_ID_RE.match(value))
