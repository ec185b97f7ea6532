"""The journal triggers: every statement that changes records writes its events here.

Statement-level AFTER triggers with transition tables: one INSERT ... SELECT per statement
whatever the number of rows, and one NOTIFY per transaction (PostgreSQL folds identical
notifications of one transaction into one). Listeners read the journal; the payload is
empty on purpose (it is never trusted, never large).
"""

from django.db import migrations

JOURNAL_FUNCTION = """
CREATE FUNCTION events_journal() RETURNS trigger LANGUAGE plpgsql AS $$
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
    IF written > 0 THEN
        PERFORM pg_notify('cubebase_events', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER events_journal_insert AFTER INSERT ON records_record
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION events_journal();
CREATE TRIGGER events_journal_update AFTER UPDATE ON records_record
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION events_journal();
CREATE TRIGGER events_journal_delete AFTER DELETE ON records_record
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION events_journal();
"""

VERSION_VIEW = """
CREATE VIEW events_{side}_version AS
SELECT e.record_id AS id,
       e.id AS event_id,
       e.object_class_id,
       e.{side} ->> 'parent_id' AS parent_id,
       (e.{side} ->> 'user_id')::bigint AS user_id,
       (e.{side} ->> 'created_at')::bigint AS created_at,
       (e.{side} ->> 'updated_at')::bigint AS updated_at,
       e.{side} -> 'data' AS data
FROM events_event e
WHERE e.{side} IS NOT NULL;
"""

FORWARD = JOURNAL_FUNCTION + VERSION_VIEW.format(side="new") + VERSION_VIEW.format(side="old")

BACKWARD = """
DROP TRIGGER IF EXISTS events_journal_insert ON records_record;
DROP TRIGGER IF EXISTS events_journal_update ON records_record;
DROP TRIGGER IF EXISTS events_journal_delete ON records_record;
DROP FUNCTION IF EXISTS events_journal();
DROP VIEW IF EXISTS events_new_version;
DROP VIEW IF EXISTS events_old_version;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0001_initial"),
        ("records", "0002_drop_redundant_indexes"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
