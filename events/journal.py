"""Reading the event journal in a safe order, and pruning it.

The pitfall: `events_event.id` comes from a sequence when the trigger runs, before commit.
A reader that asks for "id > last seen" can pass over a row whose transaction took a
smaller id but commits later, and never see it.

The scheme here never does. Every row carries its transaction's id (`xid`). PostgreSQL
tells us `xmin`, the oldest transaction still running: every transaction below it has
finished, so the set of rows with `xid < xmin` is final. The journal is therefore read in
*batches* `[lo, hi)` of transaction ids where `hi` was an `xmin` when the batch was opened;
within a batch, rows go out in `id` order. A position is the triple (lo, hi, seq): every
row with `xid < lo` is behind it, and so is every row of the batch `[lo, hi)` with
`id <= seq`. Any node can resume from any position exactly, whatever batches it has
opened itself, because a batch's content never changes once `hi` is an `xmin`.

Order per record is commit order: two transactions that change one record are ordered by
its row lock, so the second one's journal row has the larger `id`; and the second cannot
fall into an earlier batch than the first (it finished after the first did).

The price: a row is delivered only once every older write transaction has finished, so a
write transaction that stays open holds events back until it ends (docs/events.md).
"""

from dataclasses import dataclass
from functools import cached_property

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max

from config.jsontext import loads
from config.prepared import prepared_cursor
from events.models import (
    Event,
    JournalState,
    Listener,
    NewVersion,
    OldVersion,
    record_from_json,
)
from records.query.compile import conditioned

PAGE_SIZE = 500


@dataclass(frozen=True)
class Position:
    lo: int
    hi: int
    seq: int = 0

    def __str__(self) -> str:
        return f"{self.lo}-{self.hi}-{self.seq}"

    @classmethod
    def parse(cls, text: str | None) -> "Position | None":
        """A position from an event id a client sent back; None if it is not one."""
        parts = (text or "").strip().split("-")
        if len(parts) != 3 or not all(p.isdigit() and len(p) <= 19 for p in parts):
            return None
        lo, hi, seq = (int(p) for p in parts)
        return cls(lo, hi, seq) if lo <= hi else None


def current_xmin() -> int:
    """The oldest transaction id still running (every smaller one has finished)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        return cursor.fetchone()[0]


def now_position() -> Position:
    """The position of "now": every committed event so far is behind it... except those of
    transactions still running, which will come after it."""
    xmin = current_xmin()
    return Position(xmin, xmin, 0)


@dataclass(slots=True)
class Change:
    """The columns of one journal row (an Event's fields) as the hub reads them: every
    server process reads every row, and a model instance for each cost more than the
    JSON in it."""

    id: int
    xid: int
    op: str
    occurred_at: int
    application_id: int
    object_class_id: int
    record_id: str
    new: dict | None
    old: dict | None


class Row:
    """One journal row as the stream and the webhooks use it."""

    def __init__(self, event: "Event | Change", position: Position):
        self.event = event
        self.position = position  # the position just after this row

    @property
    def id(self) -> int:
        return self.event.id

    @property
    def op(self) -> str:
        return self.event.op

    @cached_property
    def new(self):
        return record_from_json(self.event.new)

    @cached_property
    def old(self):
        return record_from_json(self.event.old)


def read_segment(lo: int, hi: int, after: int, upto: int | None = None, limit=None):
    """Rows of the batch [lo, hi) with after < id (<= upto), in id order, at most `limit`."""
    limit = limit or PAGE_SIZE
    rows = Event.objects.filter(xid__gte=lo, xid__lt=hi, id__gt=after)
    if upto is not None:
        rows = rows.filter(id__lte=upto)
    return [Row(e, Position(lo, hi, e.id)) for e in rows.order_by("id")[:limit]]


READ_SQL = """
WITH snap AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin)
SELECT snap.xmin,
       COALESCE((SELECT max(w.xid) FROM events_event w) >= snap.xmin, false),
       (SELECT version FROM classes_schemaversion WHERE id = 1),
       e.id, e.xid, e.op, e.occurred_at, e.application_id, e.object_class_id, e.record_id,
       e.new::text, e.old::text
FROM snap LEFT JOIN LATERAL (
    SELECT * FROM events_event e
    WHERE (e.xid >= %(lo)s AND e.xid < %(hi)s AND e.id > %(seq)s)
       OR (e.xid >= %(hi)s AND e.xid < snap.xmin)
    ORDER BY e.xid >= %(hi)s, e.id
    LIMIT %(limit)s
) e ON true
"""


@dataclass
class Page:
    rows: list[Row]
    position: Position  # after the rows
    waiting: bool  # committed rows still wait for an older running transaction
    schema_version: int  # classes.SchemaVersion in the same snapshot (0: none yet)


def read_after(position: Position, limit=None) -> Page:
    """The next rows after `position` that are final now (at most `limit`), and the
    position after them. One statement: the rest of the current batch, then the batch that
    `xmin` now closes. Called until it answers fewer than `limit` rows, it has read
    everything final."""
    limit = limit or PAGE_SIZE
    with prepared_cursor() as cursor:  # every server process runs it many times a second
        cursor.execute(READ_SQL, {**position.__dict__, "limit": limit})
        found = cursor.fetchall()
    xmin, waiting, version = found[0][:3]
    rows = [_row(position, xmin, values[3:]) for values in found if values[3] is not None]
    if len(rows) == limit:
        after = rows[-1].position
    elif xmin > position.hi:  # the current batch is drained: the next one is [hi, xmin)
        last = rows[-1].id if rows and rows[-1].position.lo == position.hi else 0
        after = Position(position.hi, xmin, last)
    else:
        after = rows[-1].position if rows else position
    return Page(rows, after, waiting, version or 0)


def read_final(position: Position, limit: int | None = None) -> Page:
    """Every row final after `position` (pages of PAGE_SIZE, up to about `limit` rows when
    one is given) as one Page: the position after them, and the last page's `waiting` and
    `schema_version`."""
    rows = []
    while limit is None or len(rows) < limit:
        page = read_after(position)
        rows, position = rows + page.rows, page.position
        if len(page.rows) < PAGE_SIZE:
            break
    return Page(rows, position, page.waiting, page.schema_version)


def _row(position: Position, xmin: int, values) -> Row:
    id_, xid, op, occurred_at, app_id, class_id, record_id, new, old = values
    new = loads(new) if new is not None else None
    old = loads(old) if old is not None else None
    event = Change(id_, xid, op, occurred_at, app_id, class_id, record_id, new, old)
    batch = (position.lo, position.hi) if xid < position.hi else (position.hi, xmin)
    return Row(event, Position(*batch, id_))


def segments_between(start: Position, end: Position) -> list[tuple[int, int, int, int | None]]:
    """The batches to read to go from `start` to `end` (both positions), as (lo, hi, after,
    upto) tuples; None when `start` is not behind `end` in a way this node can follow (the
    caller moves `end` on and asks again)."""
    if (start.lo, start.hi) == (end.lo, end.hi):
        return [(start.lo, start.hi, start.seq, end.seq)] if start.seq <= end.seq else None
    if start.hi > end.lo:
        return None
    segments = [(start.lo, start.hi, start.seq, None)]
    if start.hi < end.lo:
        segments.append((start.hi, end.lo, 0, None))
    segments.append((end.lo, end.hi, 0, end.seq))
    return segments


def read_segments(segments) -> list[Row]:
    """Every row of the given segments, in order (pages of PAGE_SIZE)."""
    out = []
    for lo, hi, after, upto in segments:
        while True:
            page = read_segment(lo, hi, after, upto)
            out += page
            if len(page) < PAGE_SIZE:
                break
            after = page[-1].id
    return out


def pruned_beyond(position: Position) -> bool:
    """Were events after `position` pruned? (Then the client must reload: `reset`.)"""
    state = JournalState.objects.filter(pk=1).first()
    return state is not None and state.pruned_xid >= position.lo


def matching_ids(query, event_ids, side: str) -> set[int]:
    """The events among `event_ids` whose record version (`new` or `old`) matches the
    conditions of `query`, tested by the same SQL as a list (records.query.compile)."""
    model = NewVersion if side == "new" else OldVersion
    queryset = conditioned(model.objects.filter(event_id__in=event_ids), query)
    return set(queryset.values_list("event_id", flat=True))


@transaction.atomic
def prune(now: int) -> int:
    """Remove events older than the retention, and lapsed class registrations. Events not
    yet handed to webhooks are kept. Answers how many events went."""
    state, _ = JournalState.objects.select_for_update().get_or_create(pk=1)
    # A lapsed registration is as good as none (events.listeners); the trigger looks at
    # every row of the table in each statement, so it is kept to the live ones.
    Listener.objects.filter(until__lte=now).delete()
    old = Event.objects.filter(occurred_at__lt=now - settings.EVENTS_RETENTION_SECONDS)
    if state.dispatched_lo is not None:
        old = old.filter(xid__lt=state.dispatched_lo)
    top = old.aggregate(top=Max("xid"))["top"]
    if top is None:
        return 0
    count, _ = old.delete()
    state.pruned_xid = max(state.pruned_xid, top)
    state.save(update_fields=["pruned_xid"])
    return count
