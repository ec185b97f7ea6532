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


def test_a_record_is_tied_to_its_class_and_parent_and_through_the_class_to_its_app(db):
    """The database keys of records_record: its class and its parent. Its application is
    the class's (the services write it from the class), whose own key ties it to the
    application; a third key checked that again on every insert."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.attname, c.confrelid::regclass::text FROM pg_constraint c"
            " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]"
            " WHERE c.conrelid = 'records_record'::regclass AND c.contype = 'f'"
        )
        keys = dict(cursor.fetchall())
        cursor.execute(
            "SELECT 1 FROM pg_constraint WHERE conrelid = 'classes_objectclass'::regclass"
            " AND contype = 'f' AND confrelid = 'accounts_application'::regclass"
        )
        assert cursor.fetchone() is not None
    assert keys == {"object_class_id": "classes_objectclass", "parent_id": "records_record"}


def test_deleting_an_application_deletes_its_records_and_no_others(application, create):
    from accounts.models import Application
    from records.models import Record
    from tests.conftest import make_user
    from tests.records.conftest import make_class

    other = Application.objects.create(name="other")
    theirs = create(user=make_user(other, "them"), klass=make_class(other), age=2)
    create(age=1)
    application.delete()  # the ORM's cascade: users, sessions, classes, records
    assert list(Record.objects.values_list("pk", flat=True)) == [theirs.pk]
