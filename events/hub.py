"""The per-process fan-out: one LISTEN connection, one journal reader, many subscribers.

A server process holds one `Hub` per event loop. While it has subscribers it keeps one
psycopg (async) connection that LISTENs on `cubebase_events`; a notification, or a poll
every second when there is none, makes it read the journal from its position
(`journal.read_after`), load the classes and evaluate the conditions those rows need (one
SQL query per distinct set of conditions, whatever the number of subscribers), then put
the batch into every subscriber's bounded queue. Each stream renders what its subscriber
may see (`subscriptions.render`). Journal reads run in one dedicated thread with its own
database connection, so the event loop never blocks and subscribers hold no thread.

Once a second the hub also re-reads the sessions of its subscribers (one query): a deleted
or expired session ends its stream, and a change of the user's tags applies from then on.
Once a minute it renews the registration of its subscribers' classes, without which the
journal would stop keeping their changes (events.listeners).
"""

import asyncio
import logging
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial

import psycopg
from django.conf import settings
from django.db import connection
from django.db.utils import InterfaceError, OperationalError
from django.utils import timezone

from classes.models import ObjectClass
from config.prepared import prepared_cursor
from events import journal, listeners
from events.models import CHANNEL
from events.subscriptions import Batch, audiences, fan_out
from ops.metrics import EVENT_STREAMS

logger = logging.getLogger(__name__)

MAX_ROWS_PER_READ = 5000
IDLE_POLL_SECONDS = 1.0
SESSION_CHECK_SECONDS = 1.0
RESET = "reset"  # what a subscriber gets first when it cannot resume where it asked

_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()
_all_hubs: "weakref.WeakSet[Hub]" = weakref.WeakSet()


def get_hub() -> "Hub":
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub()
        _all_hubs.add(hub)
    return hub


def close_hub_connections() -> None:
    """Close the database connection of every hub's thread (tests, before the test
    database is dropped; a server process just exits)."""
    for hub in list(_all_hubs):
        hub.executor.submit(close_connection).result(timeout=10)


def listen_params() -> dict:
    """psycopg connection parameters of Django's default database (no Django adapters)."""
    params = connection.get_connection_params()
    return {k: v for k, v in params.items() if k not in ("cursor_factory", "context")}


def close_connection() -> None:
    """The calling thread's Django connection (`connection` is per thread)."""
    connection.close()


def _with_retry(fn, *args):
    """Run a database function in the hub thread; one retry on a broken connection."""
    try:
        return fn(*args)
    except (InterfaceError, OperationalError):
        connection.close()
        return fn(*args)


def read_batch(position, conditions: dict, limit=MAX_ROWS_PER_READ):
    """Everything final after `position` (up to `limit` rows) as one Batch, and whether
    committed rows are still held back by an older running transaction."""
    page = journal.read_final(position, limit)
    batch = Batch(rows=page.rows, position=page.position)
    if page.rows:
        prepare(batch, conditions, page.schema_version)
    return batch, page.waiting


# Classes by id, loaded under one schema version (classes.SchemaVersion, read in the same
# statement as the journal rows): any class change moves the version, so an entry is
# never used after the change that outdated it. Only the hub's thread touches it.
_classes: dict = {"version": None, "by_id": {}}


def classes_for(class_ids, schema_version: int | None) -> dict:
    if schema_version is None or schema_version != _classes["version"]:
        _classes.update(version=schema_version, by_id={})
    cached = _classes["by_id"]
    missing = set(class_ids) - cached.keys()
    if missing:
        for klass in ObjectClass.objects.filter(pk__in=missing).prefetch_related("fields"):
            klass.field_map()  # filled now: the instance is shared from here on
            cached[klass.pk] = klass
    return {pk: cached[pk] for pk in class_ids if pk in cached}


def prepare(batch: Batch, conditions: dict, schema_version: int | None = None) -> None:
    """Load the batch's classes and evaluate each distinct set of conditions on it."""
    class_ids = {row.event.object_class_id for row in batch.rows}
    batch.classes.update(classes_for(class_ids, schema_version))
    for key, (class_id, query) in conditions.items():
        if key in batch.matches:
            continue
        ids = [row.id for row in batch.rows if row.event.object_class_id == class_id]
        if not ids:
            batch.matches[key] = (set(), set())
            continue
        batch.matches[key] = (
            journal.matching_ids(query, ids, "new"),
            journal.matching_ids(query, ids, "old"),
        )


SESSIONS_SQL = """
SELECT s.id, u.tags FROM accounts_apisession s LEFT JOIN accounts_apiuser u ON u.id = s.user_id
WHERE s.id = ANY(%s) AND s.updated_at >= %s
"""


def session_states(session_ids) -> dict:
    """{session id: user tags} of the sessions still alive among `session_ids` (one
    prepared statement: a thousand subscribers are checked in about a millisecond)."""
    cutoff = timezone.now() - timedelta(seconds=settings.SESSION_TTL_SECONDS)
    with prepared_cursor() as cursor:
        cursor.execute(SESSIONS_SQL, [list(session_ids), cutoff])
        return {pk: tuple(tags or ()) for pk, tags in cursor.fetchall()}


class Hub:
    def __init__(self):
        self.subscribers: set = set()
        self.position = None
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="events-hub")
        self.wake = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.stopping = False
        self._audience_cache = None  # subscribers indexed for fan_out; None: rebuild
        self._conditions_cache = None  # all subscribers' conditions; None: rebuild
        self.reading = asyncio.Lock()
        self.listener = None  # the LISTEN connection (psycopg, async)
        self.listening: asyncio.Task | None = None
        self.listen_tried = 0.0
        self.sessions_checked = 0.0
        self.renewed = time.monotonic()  # the subscribers' classes registered last
        self.listened: dict = {}  # class id -> (its `since`, time.monotonic() registered)
        self.last_read = 0.0  # time.monotonic() of the last read's start

    async def run(self, fn, *args):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, partial(_with_retry, fn, *args))

    # --- subscribers ------------------------------------------------------------------

    async def subscribe(self, sub, start=None) -> list:
        """Register `sub`; answers the batches it must render first: its catch-up from
        `start` (a position it resumes from), or a `reset` marker when that is too old."""
        await self._ensure_running()
        # The class is journaled from here on (events.listeners); a position from before
        # its journal began may have missed changes.
        since = await self._since(sub.class_id)
        if start is None:
            self._register(sub)
            return []
        if start == RESET or start.lo < since or await self.run(journal.pruned_beyond, start):
            self._register(sub)
            return [RESET]
        segments = journal.segments_between(start, self.position)
        if segments is None:  # the client was further on another node: move on first
            await self.read_now()
            segments = journal.segments_between(start, self.position)
        if segments is None:
            self._register(sub)
            return [RESET]
        end = self.position
        self._register(sub)  # live batches queue up from `end` while we catch up
        rows = await self.run(journal.read_segments, segments)
        batch = Batch(rows=rows, position=end)
        if rows:
            conditions = self._conditions([sub])
            await self.run(prepare, batch, conditions)
        return [batch]

    def _register(self, sub) -> None:
        sub.position = self.position
        if sub not in self.subscribers:
            EVENT_STREAMS.inc()
        self.subscribers.add(sub)
        self._audience_cache = self._conditions_cache = None
        self._start()  # in case the reading task stopped while this one was checked

    def unsubscribe(self, sub) -> None:
        if sub in self.subscribers:
            EVENT_STREAMS.dec()
        self.subscribers.discard(sub)
        self._audience_cache = self._conditions_cache = None

    @staticmethod
    def _conditions(subs) -> dict:
        return {s.conditions_key: (s.class_id, s.query) for s in subs if s.query is not None}

    def _all_conditions(self) -> dict:
        """The conditions of every subscriber, kept until one comes or goes (each read
        asks twice; with a thousand subscribers, going through them all was about 1 % of a
        node's CPU under a stream of creates)."""
        if self._conditions_cache is None:
            self._conditions_cache = self._conditions(self.subscribers)
        return self._conditions_cache

    # --- the loop -----------------------------------------------------------------------

    async def _ensure_running(self) -> None:
        """A hub that is not reading starts again from "now": what was written while
        nobody listened here is nobody's live event."""
        if self.task is None or self.stopping:
            if not self.subscribers:
                self.position = await self.run(journal.now_position)
            self._start()

    def _start(self) -> None:
        if self.task is None or self.stopping:
            self.stopping = False
            self.task = asyncio.create_task(self._main())

    async def _main(self) -> None:
        try:
            await self._loop()
        finally:
            await self._drop_listener()
            await self.run(close_connection)

    async def _keep_listening(self) -> None:
        """(Re)open the LISTEN connection when it is not there (first start, a database
        restart); without it the hub still polls every second."""
        if self.listening is not None and not self.listening.done():
            return
        await self._drop_listener()
        if time.monotonic() - self.listen_tried < IDLE_POLL_SECONDS:
            return
        self.listen_tried = time.monotonic()
        try:
            self.listener = await psycopg.AsyncConnection.connect(
                autocommit=True, **listen_params()
            )
            await self.listener.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error:
            logger.exception("events: cannot LISTEN; polling every second meanwhile")
            await self._drop_listener()
            return
        self.listening = asyncio.create_task(self._listen(self.listener))
        self.wake.set()  # read once: something may have been missed while not listening

    async def _drop_listener(self) -> None:
        if self.listening is not None:
            self.listening.cancel()
            await asyncio.wait([self.listening])  # its socket leaves the loop before closing
            self.listening = None
        if self.listener is not None:
            try:
                await self.listener.close()
            except psycopg.Error:
                pass
            self.listener = None

    async def _listen(self, listener) -> None:
        """Set `wake` on notifications until the LISTEN connection breaks.

        The socket is drained with libpq's own calls (psycopg's `pgconn`) from a reader
        callback: psycopg's `notifies()` generator costs a future and a reader registration
        per notification, and under a few hundred writes a second every server process
        receives them all."""
        loop = asyncio.get_running_loop()
        pgconn = listener.pgconn
        broken = loop.create_future()

        def readable():
            try:
                pgconn.consume_input()
            except psycopg.Error as exc:
                if not broken.done():
                    broken.set_exception(exc)
                return
            woke = False
            while pgconn.notifies() is not None:
                woke = True
            if woke:
                self.wake.set()

        loop.add_reader(pgconn.socket, readable)
        try:
            await broken
        except psycopg.Error:
            logger.warning("events: the LISTEN connection broke; opening another")
        finally:
            loop.remove_reader(pgconn.socket)

    async def _loop(self) -> None:
        delay = IDLE_POLL_SECONDS
        idle = 0
        while True:
            idle = 0 if self.subscribers else idle + 1
            if idle > 1:  # nobody for a whole poll: stop (a new subscriber starts it again)
                self.stopping = True
                return
            await self._keep_listening()
            await self._woken_or(delay)
            # Reads are at least EVENTS_COALESCE_MS (40) apart: at hundreds of writes a
            # second each process reads ~25 times a second, not once a write (a read
            # costs ~0.2 ms of CPU in every server process); the first write after a
            # quiet spell is read at once.
            gap = settings.EVENTS_COALESCE_MS / 1000 - (time.monotonic() - self.last_read)
            if gap > 0:
                await asyncio.sleep(gap)
            self.wake.clear()
            self.last_read = time.monotonic()
            try:
                waiting = await self.read_now()
                await self._check_sessions()
                await self._renew()
            except Exception:  # a database hiccup must not end every stream
                logger.exception("events: reading the journal failed")
                waiting = False
            # Rows committed behind a running older transaction: look again soon (its
            # end sends no notification when it wrote no record).
            if waiting:
                delay = 0.005 if delay >= IDLE_POLL_SECONDS else min(delay * 2, 0.2)
            else:
                delay = IDLE_POLL_SECONDS

    async def _woken_or(self, seconds: float) -> None:
        """Wait until `wake` is set or `seconds` pass. Not asyncio.wait_for: on Python 3.11
        it swallows a cancellation that comes as the wait ends (a wake at shutdown), and
        the hub would go on reading after its event loop was told to stop."""
        waiting = asyncio.ensure_future(self.wake.wait())
        try:
            await asyncio.wait([waiting], timeout=seconds)
        finally:
            waiting.cancel()

    async def read_now(self) -> bool:
        """Read what is final, hand it to every subscriber; answers whether rows wait.
        One read at a time: two from the same position would deliver twice."""
        async with self.reading:
            return await self._read()

    async def _read(self) -> bool:
        conditions = self._all_conditions()
        batch, waiting = await self.run(read_batch, self.position, conditions)
        if len(batch.rows) >= MAX_ROWS_PER_READ:
            self.wake.set()  # more to read: come back at once
        if batch.rows:
            # Subscribers that came while reading may have conditions not evaluated yet.
            conditions = self._all_conditions().items()
            missing = {k: v for k, v in conditions if k not in batch.matches}
            if missing:
                await self.run(prepare, batch, missing)
        # No await from here on: a subscriber registered at this position gets every
        # batch after it and none before.
        self.position = batch.position
        if batch.rows:
            for sub, text in fan_out(batch, self._audiences()).items():
                sub.offer((text, batch.position))
        return waiting

    def _audiences(self) -> dict:
        if self._audience_cache is None:
            self._audience_cache = audiences(self.subscribers)
        return self._audience_cache

    async def _check_sessions(self) -> None:
        if time.monotonic() - self.sessions_checked < SESSION_CHECK_SECONDS:
            return
        self.sessions_checked = time.monotonic()
        subs = [s for s in self.subscribers if s.session_id is not None]
        if not subs:
            return
        alive = await self.run(session_states, {s.session_id for s in subs})
        for sub in subs:
            if sub.session_id not in alive:
                sub.end("session ended")
            elif sub.set_groups(alive[sub.session_id]):
                self._audience_cache = None

    async def _since(self, class_id: int) -> int:
        """Register the class, unless this hub did within RENEW_SECONDS (a registration
        lasts far longer: a thousand subscribers arriving at once make one commit, not a
        thousand); answers from which transaction it is journaled without a gap."""
        known = self.listened.get(class_id)
        if known is not None and time.monotonic() - known[1] < listeners.RENEW_SECONDS:
            return known[0]
        return (await self._register_classes([class_id]))[class_id]

    async def _register_classes(self, class_ids) -> dict:
        registered = time.monotonic()
        since = await self.run(listeners.listen, class_ids)
        for class_id, first in since.items():
            if first != listeners.NOT_YET:
                self.listened[class_id] = (first, registered)
        return since

    async def _renew(self) -> None:
        """Keep the subscribers' classes journaled (events.listeners)."""
        if time.monotonic() - self.renewed < listeners.RENEW_SECONDS:
            return
        self.renewed = time.monotonic()
        classes = {s.class_id for s in self.subscribers}
        if classes:
            await self._register_classes(classes)


def ping_seconds() -> float:
    return float(settings.EVENTS_PING_SECONDS)
