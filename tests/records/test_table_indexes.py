"""The records table carries only the indexes its queries use: each one costs every write
and every COPY of a bulk import."""

from django.db import connection


def test_records_table_has_only_the_indexes_queries_use(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'records_record'")
        names = {row[0] for row in cursor.fetchall()}
    assert {n for n in names if not n.startswith("records_record_application_id")} == {
        "records_record_pkey",  # get by id, _parent_id checks
        "record_class_id",  # every list: class filter in _id order
        "record_class_owner",  # lists under owner permissions
        "record_parent",  # children of a record, cascade delete
    }
    # application_id: the console's per-application counts and application deletes.
    assert any(n.startswith("records_record_application_id") for n in names)
