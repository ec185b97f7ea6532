"""accounts_usertag carries each user's created_at, so a tag filter with a created_at
compare (the reference page's `user_tags=guest&created_at[lt]=...`) is counted from this
table's index too. The triggers now also follow a change of created_at."""

import importlib

from django.db import migrations, models

PREVIOUS = importlib.import_module("accounts.migrations.0005_user_tag_index")

SYNC_SQL = """
CREATE OR REPLACE FUNCTION accounts_apiuser_tags_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM accounts_usertag
        WHERE application_id = OLD.application_id AND tag = ANY (OLD.tags) AND user_id = OLD.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO accounts_usertag (application_id, tag, user_id, created_at)
        SELECT NEW.application_id, t, NEW.id, NEW.created_at FROM unnest(NEW.tags) AS t
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
DROP TRIGGER accounts_apiuser_tags_change ON accounts_apiuser;
CREATE TRIGGER accounts_apiuser_tags_change AFTER UPDATE OF tags, application_id, created_at
    ON accounts_apiuser FOR EACH ROW
    WHEN (OLD.tags IS DISTINCT FROM NEW.tags OR OLD.application_id <> NEW.application_id
          OR OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION accounts_apiuser_tags_sync();
UPDATE accounts_usertag t SET created_at = u.created_at
    FROM accounts_apiuser u WHERE u.id = t.user_id;
"""
# Back to 0005's function and triggers (the column goes with the state operations).
REVERSE_SQL = PREVIOUS.DROP_SQL + PREVIOUS.FUNCTION_SQL + PREVIOUS.TRIGGERS_SQL


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_user_tag_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="usertag",
            name="created_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunSQL(SYNC_SQL, reverse_sql=REVERSE_SQL),
        migrations.AlterField(
            model_name="usertag",
            name="created_at",
            field=models.DateTimeField(),
        ),
    ]
