"""The records' audit trigger fires only for updates that set a permission column.

Its WHEN clause compares the nine permission columns before and after, and PostgreSQL
reads a trigger's WHEN clause from its stored text and compiles it anew for every
statement that may fire the trigger: in a perf profile of PostgreSQL's backends under the
API's `inc` updates it was 6 % of their CPU, for updates that never set those columns
(docs/performance.md, "The audit trigger's WHEN clause"). With the columns listed
(`AFTER UPDATE OF`), PostgreSQL first looks at the columns the statement sets and skips
the trigger when none of them is among them; the in-place update sets `data` and
`updated_at` only. A permission changes only in an update that sets its column, and such
an update still goes through the WHEN clause, so the trail has exactly the entries it had.
"""

from django.db import migrations

COLUMNS = [
    f"{action}_{part}"
    for action in ("read", "update", "delete")
    for part in ("access", "ids", "groups")
]
WHEN = "\n        OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in COLUMNS)


def trigger(columns: str) -> str:
    return f"""
DROP TRIGGER audit_record_permissions ON records_record;
CREATE TRIGGER audit_record_permissions AFTER UPDATE{columns} ON records_record
    FOR EACH ROW WHEN (
        {WHEN})
    EXECUTE FUNCTION audit_record_permissions();
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_triggers")]

    operations = [migrations.RunSQL(trigger(" OF " + ", ".join(COLUMNS)), trigger(""))]
