"""Which classes the journal keeps: those a subscription may read events of.

The journal trigger (migration 0004) writes a record's change only when its class has a
row in `events_listener` whose `until` has not passed, or when its application has an
enabled webhook. A server process that opens a subscription on a class registers the
class here first (`listen`), and renews the registration of its subscribers' classes
while they stay (`Hub`, every RENEW_SECONDS). A registration lasts the journal's
retention (EVENTS_RETENTION_SECONDS) past its last renewal, so a subscriber that drops
can resume from its last event for as long as the journal keeps events.

`since` says from where a class was journaled without a gap: every transaction whose id
is `since` or above saw the registration when its trigger ran, so none of its changes of
the class was left out. It is set when a registration starts (the class's first one, or
one after the last lapsed), in two steps: the row is committed with `since` at NOT_YET,
then `since` is set to the upper bound of a snapshot taken after that commit (every
transaction with an id from there on began writing after the commit, and its trigger,
which looks with a snapshot of its own taken after the write, sees the row). A
subscription that resumes from a position before `since`, or while it is NOT_YET, may
have missed events and is told to reset (events.hub).

A change whose statement ran before the class's first registration committed is not in
the journal, even when its transaction commits after the subscription opened: a
subscription sees the changes written after it began. Writers in REPEATABLE READ or
SERIALIZABLE transactions look with their transaction's first snapshot; one that began
before a class's first registration and writes it after is not journaled either
(docs/events.md). The API and the console write in READ COMMITTED.
"""

from django.conf import settings
from django.db import connection

NOT_YET = 2**63 - 1
RENEW_SECONDS = 60.0

_NOW = "floor(extract(epoch FROM now()))::bigint"

REGISTER_SQL = f"""
INSERT INTO events_listener AS l (object_class_id, until, since)
SELECT c, {_NOW} + %(keep)s, {NOT_YET} FROM unnest(%(classes)s::bigint[]) c
ON CONFLICT (object_class_id) DO UPDATE
SET until = greatest(l.until, excluded.until),
    since = CASE WHEN l.until > {_NOW} THEN l.since ELSE excluded.since END
RETURNING object_class_id, since
"""

START_SQL = f"""
UPDATE events_listener SET since = pg_snapshot_xmax(pg_current_snapshot())::text::bigint
WHERE object_class_id = ANY(%(classes)s::bigint[]) AND since = {NOT_YET}
"""

SINCE_SQL = f"""
SELECT object_class_id, since FROM events_listener
WHERE object_class_id = ANY(%s::bigint[]) AND until > {_NOW}
"""


def keep_seconds() -> int:
    """How long a registration lasts past its last renewal: the journal's retention, and
    at least twice the renewal period."""
    return max(int(settings.EVENTS_RETENTION_SECONDS), int(2 * RENEW_SECONDS))


def listen(class_ids) -> dict:
    """Register the classes (or renew their registration); answers {class id: since}.
    Each statement commits on its own: the caller must not be in a transaction, since a
    registration that is not committed is seen by no writer."""
    classes = sorted({int(c) for c in class_ids})
    if not classes:
        return {}
    if connection.in_atomic_block:
        raise RuntimeError("listen() must commit: call it outside a transaction")
    with connection.cursor() as cursor:
        cursor.execute(REGISTER_SQL, {"classes": classes, "keep": keep_seconds()})
        since = dict(cursor.fetchall())
        starting = [c for c, s in since.items() if s == NOT_YET]
        if starting:  # another process may start one of them at the same moment
            cursor.execute(START_SQL, {"classes": starting})
            cursor.execute(SINCE_SQL, [starting])
            since.update(cursor.fetchall())
    return since


def since(class_id: int) -> int:
    """From which transaction id the class has been journaled without a gap; NOT_YET when
    it is not registered now."""
    with connection.cursor() as cursor:
        cursor.execute(SINCE_SQL, [[class_id]])
        found = cursor.fetchone()
    return found[1] if found else NOT_YET
