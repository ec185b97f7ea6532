"""The schema version (classes.models.SchemaVersion) and the triggers that change it."""

from django.db import migrations, models

FORWARD = """
CREATE SEQUENCE classes_schema_version_seq;
INSERT INTO classes_schemaversion (id, version) VALUES (1, nextval('classes_schema_version_seq'));

CREATE FUNCTION classes_schema_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A row, not the sequence alone: the new value becomes visible with the commit of the
    -- change itself, never before it (a sequence is not transactional).
    INSERT INTO classes_schemaversion (id, version)
    VALUES (1, nextval('classes_schema_version_seq'))
    ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version;
    RETURN NULL;
END $$;

CREATE TRIGGER classes_objectclass_schema_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON classes_objectclass
    FOR EACH STATEMENT EXECUTE FUNCTION classes_schema_changed();
CREATE TRIGGER classes_field_schema_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON classes_field
    FOR EACH STATEMENT EXECUTE FUNCTION classes_schema_changed();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS classes_field_schema_changed ON classes_field;
DROP TRIGGER IF EXISTS classes_objectclass_schema_changed ON classes_objectclass;
DROP FUNCTION IF EXISTS classes_schema_changed();
DROP SEQUENCE IF EXISTS classes_schema_version_seq;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("classes", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="SchemaVersion",
            fields=[
                (
                    "id",
                    models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False),
                ),
                ("version", models.BigIntegerField()),
            ],
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
