"""Record ids: 24 lowercase hex characters in MongoDB's ObjectId layout (4 bytes of Unix
time, 5 random bytes fixed per process, a 3-byte counter), so ordering by `_id` is
creation order and ids made in one second by one process are still ordered."""

import itertools
import os
import re
import threading
import time

from config.processes import process_id

_ID_RE = re.compile(r"^[0-9a-f]{24}$")
_process_bytes = os.urandom(5)
_counter = itertools.count(int.from_bytes(os.urandom(3), "big"))
_lock = threading.Lock()
_pid = process_id()


def new_object_id(at: float | None = None) -> str:
    global _process_bytes, _pid
    if process_id() != _pid:  # a forked worker must not repeat its parent's ids
        _process_bytes, _pid = os.urandom(5), process_id()
    with _lock:
        count = next(_counter) & 0xFFFFFF
    seconds = int(time.time() if at is None else at) & 0xFFFFFFFF
    return (seconds.to_bytes(4, "big") + _process_bytes + count.to_bytes(3, "big")).hex()


def is_object_id(value) -> bool:
    return isinstance(value, str) and bool(_ID_RE.match(value))
