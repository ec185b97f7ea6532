"""Every index on records_record is paid for by every write and every COPY of a bulk
import. Two of Django's defaults bought nothing here:

- the single-column object_class_id index, a prefix of record_class_id (object_class, id);
- the varchar_pattern_ops copy of the primary key that Django adds to every indexed
  CharField for LIKE queries; nothing searches `_id` by pattern.
"""

import django.db.models.deletion
from django.db import migrations, models

DROP_LIKE_INDEX = """
DO $$
DECLARE name text;
BEGIN
  FOR name IN SELECT indexname FROM pg_indexes
              WHERE tablename = 'records_record' AND indexdef LIKE '%varchar_pattern_ops%'
  LOOP
    EXECUTE format('DROP INDEX %I', name);
  END LOOP;
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("classes", "0001_initial"),
        ("records", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="record",
            name="object_class",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="records",
                to="classes.objectclass",
            ),
        ),
        migrations.RunSQL(DROP_LIKE_INDEX, reverse_sql=migrations.RunSQL.noop),
    ]
