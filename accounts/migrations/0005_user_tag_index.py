"""accounts_usertag: one row per tag of a user, kept by triggers on accounts_apiuser.

The users search counts the users of a tag with an index-only scan of this table's primary
key (a GIN index on the tags array must visit every matching user row to count). Triggers
keep it exact whatever writes the users. The backfill runs while the trigger already
exists, in this migration's transaction: writes to users wait for it (seconds for a
million users)."""

from django.db import migrations, models

FUNCTION_SQL = """
CREATE FUNCTION accounts_apiuser_tags_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM accounts_usertag
        WHERE application_id = OLD.application_id AND tag = ANY (OLD.tags) AND user_id = OLD.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO accounts_usertag (application_id, tag, user_id)
        SELECT NEW.application_id, t, NEW.id FROM unnest(NEW.tags) AS t
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
"""
TRIGGERS_SQL = """
CREATE TRIGGER accounts_apiuser_tags_write AFTER INSERT OR DELETE ON accounts_apiuser
    FOR EACH ROW EXECUTE FUNCTION accounts_apiuser_tags_sync();
CREATE TRIGGER accounts_apiuser_tags_change AFTER UPDATE OF tags, application_id
    ON accounts_apiuser FOR EACH ROW
    WHEN (OLD.tags IS DISTINCT FROM NEW.tags OR OLD.application_id <> NEW.application_id)
    EXECUTE FUNCTION accounts_apiuser_tags_sync();
"""
BACKFILL_SQL = """
INSERT INTO accounts_usertag (application_id, tag, user_id)
    SELECT u.application_id, t, u.id FROM accounts_apiuser u, unnest(u.tags) AS t
    ON CONFLICT DO NOTHING;
"""
SYNC_SQL = FUNCTION_SQL + TRIGGERS_SQL + BACKFILL_SQL
DROP_SQL = """
DROP TRIGGER accounts_apiuser_tags_change ON accounts_apiuser;
DROP TRIGGER accounts_apiuser_tags_write ON accounts_apiuser;
DROP FUNCTION accounts_apiuser_tags_sync();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_login_failures"),
    ]

    operations = [
        migrations.CreateModel(
            name="UserTag",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "application_id",
                        "tag",
                        "user_id",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("application_id", models.BigIntegerField()),
                ("tag", models.CharField(max_length=100)),
                ("user_id", models.BigIntegerField()),
            ],
            options={
                "verbose_name": "user tag",
            },
        ),
        migrations.RunSQL(SYNC_SQL, reverse_sql=DROP_SQL),
    ]
