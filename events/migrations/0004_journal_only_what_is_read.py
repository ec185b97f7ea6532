"""The journal keeps a change only when someone may read it.

A journal row is a second insert in every write: in a pgbench of the API's own statements
at 8 clients (docs/performance.md, "A journal only of what is read"), a trigger that
wrote nothing made creates 1.5 and `inc` updates 1.4 times as fast as the journal did,
whatever the row carried. Most classes have no live subscriber and most applications no
webhook, so most of those rows were never read.

The trigger now keeps a record's change when its class is in `events_listener` with an
`until` not yet passed (a subscription has been open on it within the retention:
events.listeners) or when its application has an enabled webhook. The conditions are
evaluated once per statement, as tables of a few rows, so a bulk import pays them once;
when nothing listens at all, the trigger returns before it builds its INSERT (in the
same pgbench, creates 1.2 and updates 1.07 times as fast as with the conditions alone).
The rows it writes are those of 0003.

Every class that exists when this runs stays journaled for one retention period
(EVENTS_RETENTION_SECONDS), as it was: a server process still running the code before
this one does not register the classes of its subscribers, and a client may resume from
an event journaled before. Classes that nobody subscribes to in that time then lapse.
"""

import importlib
import time

from django.conf import settings
from django.db import migrations, models

# The classes registered now, and the applications with an enabled webhook.
LISTENED_CLASSES = """SELECT l.object_class_id FROM events_listener l
                   WHERE l.until > floor(extract(epoch FROM now()))::bigint"""
HOOKED_APPLICATIONS = "SELECT w.application_id FROM events_webhook w WHERE w.enabled"
# A record row `r` (new or old) whose change someone may read.
READ = f"""
    (r.object_class_id IN ({LISTENED_CLASSES})
     OR r.application_id IN ({HOOKED_APPLICATIONS}))
"""

FORWARD = f"""
CREATE OR REPLACE FUNCTION events_journal() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    written bigint;
BEGIN
    -- nobody listens anywhere (the common case): one look at two small tables
    IF NOT EXISTS ({LISTENED_CLASSES}) AND NOT EXISTS ({HOOKED_APPLICATIONS}) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO events_event
            (xid, op, occurred_at, application_id, object_class_id, record_id, new, old)
        SELECT pg_current_xact_id()::text::bigint, 'create',
               floor(extract(epoch FROM now()))::bigint,
               r.application_id, r.object_class_id, r.id, to_jsonb(r), NULL
        FROM new_rows r
        WHERE {READ}
        ORDER BY r.id;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO events_event
            (xid, op, occurred_at, application_id, object_class_id, record_id, new, old)
        SELECT pg_current_xact_id()::text::bigint, 'update',
               floor(extract(epoch FROM now()))::bigint,
               r.application_id, r.object_class_id, r.id, to_jsonb(r), to_jsonb(o)
        FROM new_rows r JOIN old_rows o ON o.id = r.id
        WHERE to_jsonb(r) IS DISTINCT FROM to_jsonb(o) AND {READ}
        ORDER BY r.id;
    ELSE
        INSERT INTO events_event
            (xid, op, occurred_at, application_id, object_class_id, record_id, new, old)
        SELECT pg_current_xact_id()::text::bigint, 'delete',
               floor(extract(epoch FROM now()))::bigint,
               r.application_id, r.object_class_id, r.id, NULL, to_jsonb(r)
        FROM old_rows r
        WHERE {READ}
        ORDER BY r.id;
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

# the function as 0003 made it
BACKWARD = importlib.import_module("events.migrations.0003_wake_after_commit").FORWARD


def keep_existing_classes_journaled(apps, schema_editor):
    until = int(time.time()) + int(settings.EVENTS_RETENTION_SECONDS)
    classes = apps.get_model("classes", "ObjectClass").objects.values_list("pk", flat=True)
    listener = apps.get_model("events", "Listener")
    listener.objects.bulk_create(
        listener(object_class_id=pk, until=until, since=0) for pk in classes.iterator()
    )


class Migration(migrations.Migration):
    dependencies = [("events", "0003_wake_after_commit"), ("classes", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="Listener",
            fields=[
                ("object_class_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("until", models.BigIntegerField()),
                ("since", models.BigIntegerField()),
            ],
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
        migrations.RunPython(keep_existing_classes_journaled, migrations.RunPython.noop),
    ]
