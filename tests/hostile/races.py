"""Run requests at the same moment from several threads, each on its own database
connection, and collect what they answered."""

import threading

from django.db import connection

JOIN_TIMEOUT = 30  # seconds: a round that takes longer is a hang, reported as a failure


def together(*calls) -> list:
    """Start every call at once (behind a barrier) and answer their results in order; an
    exception is answered in place of its result."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=JOIN_TIMEOUT)
            results[index] = call()
        except Exception as exc:  # reported to the test, which asserts on it
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c), daemon=True) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
        assert not thread.is_alive(), "a request did not finish within the round's time"
    return results
