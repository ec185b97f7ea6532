"""Transactions that two clients can collide in.

Writes lock rows in one global order (records by ascending `_id`, see records/services.py),
so two requests should never wait on each other in a circle. PostgreSQL still breaks the
rare cycle no order rules out (a row that appears between two statements of a delete, say)
by aborting one transaction with a deadlock or serialization error. Such an error says
nothing about the request: running it again is the answer. `atomic_with_retry` does that a
few times; when it cannot (already inside an outer transaction, or out of attempts) the
client gets a 409 and may retry itself. Never a 500.
"""

import functools
import random
import time

from django.db import OperationalError, connection, transaction

from config.api.errors import ApiError

CONFLICT_SQLSTATES = {"40001", "40P01"}  # serialization_failure, deadlock_detected
ATTEMPTS = 4


class Conflict(ApiError):
    status = 409

    def __init__(self, errors="the request collided with another one; please retry"):
        super().__init__(errors)


def is_conflict(exc: BaseException) -> bool:
    """True for a deadlock or serialization failure, however Django wrapped it."""
    while exc is not None:
        if getattr(exc, "sqlstate", None) in CONFLICT_SQLSTATES:
            return True
        exc = exc.__cause__
    return False


def atomic_with_retry(func):
    """`transaction.atomic`, run again (up to ATTEMPTS times, after a short random pause)
    when PostgreSQL aborts it as a deadlock victim or a serialization failure."""
    atomic_func = transaction.atomic(func)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return atomic_func(*args, **kwargs)
            except OperationalError as exc:
                if not is_conflict(exc):
                    raise
                if connection.in_atomic_block or attempt == ATTEMPTS:
                    raise Conflict() from exc
            time.sleep(random.uniform(0.005, 0.05) * attempt)
        raise AssertionError("unreachable")

    return wrapper
