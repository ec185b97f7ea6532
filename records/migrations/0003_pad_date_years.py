"""Dates before year 1000 were stored as `999-01-01T00:00:00Z`, which sorts after
`1999-...` as text. Pad their years to four digits, the one stored form from now on."""

from django.db import migrations

PAD_DATE_YEARS = """
UPDATE records_record r
SET data = jsonb_set(
    r.data, ARRAY[f.name],
    to_jsonb(lpad(split_part(r.data->>f.name, '-', 1), 4, '0')
             || substr(r.data->>f.name, strpos(r.data->>f.name, '-')))
)
FROM classes_field f
WHERE f.type = 'date'
  AND r.object_class_id = f.object_class_id
  AND jsonb_typeof(r.data->f.name) = 'string'
  AND r.data->>f.name ~ '^[0-9]{1,3}-'
"""


class Migration(migrations.Migration):
    dependencies = [
        ("classes", "0001_initial"),
        ("records", "0002_drop_redundant_indexes"),
    ]

    operations = [migrations.RunSQL(PAD_DATE_YEARS, migrations.RunSQL.noop)]
