"""The journal trigger leaves the notification to the writer when the writer asks for it.

PostgreSQL serialises every transaction that calls pg_notify on one lock, held until its
commit is flushed to disk, so no two such commits can share a WAL flush. With a NOTIFY in
every write, creates and updates queued behind each other's fsync: at 8 connections a
single-record create cost about 0.15 ms more PostgreSQL CPU and ran at 40% of the rate it
reached without it (docs/performance.md).

A statement that sets `cubebase.wake_after_commit` for its transaction (records.query.rows:
the single-record INSERT and UPDATE of the API) takes on the duty to notify after its
commit (events.wakeup, from a thread, in a transaction that writes nothing and so waits for
no flush). Every other writer (the console, imports, cascades, SQL by hand) sets nothing
and is notified by the trigger, as before. The journal rows are the same either way.
"""

import importlib

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION events_journal() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    written bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO events_event
            (xid, op, occurred_at, application_id, object_class_id, record_id, new, old)
        SELECT pg_current_xact_id()::text::bigint, 'create',
               floor(extract(epoch FROM now()))::bigint,
               n.application_id, n.object_class_id, n.id, to_jsonb(n), NULL
        FROM new_rows n ORDER BY n.id;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO events_event
            (xid, op, occurred_at, application_id, object_class_id, record_id, new, old)
        SELECT pg_current_xact_id()::text::bigint, 'update',
               floor(extract(epoch FROM now()))::bigint,
               n.application_id, n.object_class_id, n.id, to_jsonb(n), to_jsonb(o)
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE to_jsonb(n) IS DISTINCT FROM to_jsonb(o)
        ORDER BY n.id;
    ELSE
        INSERT INTO events_event
            (xid, op, occurred_at, application_id, object_class_id, record_id, new, old)
        SELECT pg_current_xact_id()::text::bigint, 'delete',
               floor(extract(epoch FROM now()))::bigint,
               o.application_id, o.object_class_id, o.id, NULL, to_jsonb(o)
        FROM old_rows o ORDER BY o.id;
    END IF;
    GET DIAGNOSTICS written = ROW_COUNT;
    -- unless the writer notifies after its commit (events.wakeup)
    IF written > 0
       AND coalesce(current_setting('cubebase.wake_after_commit', true), '') <> 'on' THEN
        PERFORM pg_notify('cubebase_events', '');
    END IF;
    RETURN NULL;
END
$$;
"""

# the function as 0002 made it
BACKWARD = importlib.import_module("events.migrations.0002_journal_triggers").JOURNAL_FUNCTION
BACKWARD = BACKWARD[: BACKWARD.index("$$;") + 3].replace(
    "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"
)


class Migration(migrations.Migration):
    dependencies = [("events", "0002_journal_triggers")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
