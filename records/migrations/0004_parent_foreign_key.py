"""`_parent_id` becomes a foreign key to the record it names (ON DELETE SET NULL).

The services already lock a parent while a child is written under it and delete a record's
whole tree within the application; the key makes "no `_parent_id` names a record that is
gone" hold for every path that writes rows (import, console, SQL by hand), at one index
probe per insert of a child. SET NULL rather than CASCADE: deleting children is the
services' decision (they also remove the children's files, which the database cannot); a
path that forgot them leaves detached records, never dangling ones nor silently lost data.

Records that earlier races left pointing at a deleted parent lose that dangling `_parent_id`
(set to null) rather than being deleted: their data stays, and the key can be added.
"""

from django.db import migrations

FORWARD = """
UPDATE records_record c SET parent_id = NULL
WHERE c.parent_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM records_record p WHERE p.id = c.parent_id);
ALTER TABLE records_record
  ADD CONSTRAINT records_record_parent_fk FOREIGN KEY (parent_id)
  REFERENCES records_record (id) ON DELETE SET NULL;
"""

BACKWARD = "ALTER TABLE records_record DROP CONSTRAINT records_record_parent_fk;"


class Migration(migrations.Migration):
    dependencies = [("records", "0003_pad_date_years")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
