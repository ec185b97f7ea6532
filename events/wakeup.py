"""Wake the journal's listeners after a commit, without the commit waiting for it.

    wake_after_commit(using)   # in the transaction that wrote: notify once it commits

PostgreSQL serialises every transaction that sends a NOTIFY on one lock, held until its
commit is flushed, so writes that notify cannot share a WAL flush and queue behind each
other's fsync. The API's single-record INSERT and UPDATE (records.query.rows) therefore
mark their transaction (`cubebase.wake_after_commit`) so that the journal trigger sends no
notification (events/migrations/0003), and call this: after the commit, one thread per
process sends `pg_notify` on a connection of its own, in a transaction that writes nothing
and so waits for no flush. Wakes that arrive while it is sending, or within the gap
after, are folded into the next notification: a listener reads everything committed when
it wakes (events.journal). The gap bounds what every listening process receives: at a
thousand creates a second, sending a notification per create took ~5% of a writing
process's CPU and receiving them 2-4% of every listening one's. The gap is the hub's own
spacing of reads (EVENTS_COALESCE_MS, 40 ms by default; lowering it for latency lowers
both): a process sends at most 25 a second, and more would only wake listeners that
cannot read sooner. (From a gap of 10 ms to 40, with 3 workers, 1,000 subscriptions and
creates at 8 connections: PostgreSQL's CPU for sending and receiving the notifications
fell from ~0.018 to ~0.003 ms per create, the notifying threads' from ~0.014 to ~0.004;
delivery p95 stayed at ~40 ms.)

Nothing is lost if a notification is: the hub and the webhook dispatcher also read the
journal on their own every second or few (a failed send is logged and retried with the
next wake).
"""

import logging
import threading
import time

import psycopg
from django.conf import settings
from django.db import transaction

from config.processes import process_id
from events.models import CHANNEL

logger = logging.getLogger(__name__)


def notify_gap() -> float:
    """Seconds between two notifications of one process (see above)."""
    return settings.EVENTS_COALESCE_MS / 1000


class _Notifier:
    def __init__(self):
        self.pending = threading.Event()
        self.lock = threading.Lock()
        self.sending = threading.Lock()
        self.thread: threading.Thread | None = None
        self.pid = None
        self.connection = None

    def wake(self) -> None:
        self.pending.set()
        if self.pid != process_id():  # first wake in this process (or a forked child)
            with self.lock:
                if self.pid != process_id():
                    self.connection, self.pid = None, process_id()
                    self.thread = threading.Thread(
                        target=self._run, name="events-wakeup", daemon=True
                    )
                    self.thread.start()

    def _run(self) -> None:
        while True:
            self.pending.wait()
            with self.sending:
                self.pending.clear()
                try:
                    self._send()
                except psycopg.Error:
                    logger.warning("events: could not notify listeners", exc_info=True)
                    self._drop()
            time.sleep(notify_gap())

    def _send(self) -> None:
        from events.hub import listen_params

        if self.connection is None or self.connection.closed:
            self.connection = psycopg.connect(autocommit=True, **listen_params())
        self.connection.execute("SELECT pg_notify(%s, '')", [CHANNEL])

    def _drop(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()

    def close(self, timeout: float = 5) -> None:
        """Send what is pending, then close the connection (a later wake opens another)."""
        deadline = time.monotonic() + timeout
        while self.pending.is_set() and self.pid == process_id() and time.monotonic() < deadline:
            time.sleep(0.005)
        if self.sending.acquire(timeout=max(0.0, deadline - time.monotonic())):
            try:
                self._drop()
            finally:
                self.sending.release()


_notifier = _Notifier()


def wake_after_commit(using: str = "default") -> None:
    """Notify the journal's listeners once the current transaction of `using` commits (at
    once, in autocommit mode); nothing if it rolls back."""
    transaction.on_commit(_notifier.wake, using=using)


def close() -> None:
    """Close this process's notifying connection (tests, before the database is dropped);
    the next wake opens a new one."""
    _notifier.close()
