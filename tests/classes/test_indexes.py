"""Indexed fields build real indexes. CREATE INDEX CONCURRENTLY cannot run inside a
transaction, so most tests here use `transactional_db` (autocommit, as in production)."""

import io

import pytest
from django.core.management import call_command
from django.db import connection

from classes.services import (
    class_create,
    class_delete,
    classes_import,
    field_add,
    field_remove,
    field_set_indexed,
)
from config.api.errors import Unprocessable
from tests.classes.conftest import class_indexes

ALL_TYPES = ["integer", "float", "string", "boolean", "array", "file", "location", "date"]


def explain(sql: str, params) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            cursor.execute("EXPLAIN " + sql, params)
            return "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("RESET enable_seqscan")


@pytest.mark.django_db(transaction=True)
def test_marking_indexed_creates_and_unmarking_drops_the_index(application, add_record):
    klass = class_create(application=application, name="profile", fields={"age": "integer"})
    # Enough records, with statistics, that the field index is plainly the cheapest plan;
    # with one row every index of the class costs the same and the planner picks any.
    for age in range(300):
        add_record(klass, {"age": age}, user_id=age % 3)
    field = klass.fields.get()
    assert class_indexes(klass) == {}

    field_set_indexed(field=field, indexed=True)
    indexes = class_indexes(klass)
    assert len(indexes) == 1
    [(name, definition)] = indexes.items()
    assert len(name) <= 63
    assert "'age'" in definition and "bigint" in definition
    field.refresh_from_db()
    assert field.indexed is True
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE records_record")
    plan = explain(
        "SELECT id FROM records_record WHERE object_class_id = %s"
        " AND ((data ->> 'age'))::bigint = %s",
        [klass.pk, 41],
    )
    assert name in plan

    field_set_indexed(field=field, indexed=False)
    assert class_indexes(klass) == {}
    field.refresh_from_db()
    assert field.indexed is False


@pytest.mark.django_db(transaction=True)
def test_every_type_can_be_indexed(application):
    klass = class_create(
        application=application,
        name="all",
        fields=[{"name": t, "type": t, "indexed": True} for t in ALL_TYPES],
    )
    assert len(class_indexes(klass)) == len(ALL_TYPES)
    assert all(klass.fields.values_list("indexed", flat=True))


@pytest.mark.django_db(transaction=True)
def test_index_names_are_per_class_and_field(application):
    one = class_create(application=application, name="one", fields={"a": "integer"})
    two = class_create(application=application, name="two", fields={"a": "integer"})
    field_set_indexed(field=one.fields.get(), indexed=True)
    field_set_indexed(field=two.fields.get(), indexed=True)
    assert set(class_indexes(one)).isdisjoint(class_indexes(two))
    field_set_indexed(field=one.fields.get(), indexed=False)
    assert class_indexes(one) == {} and len(class_indexes(two)) == 1


@pytest.mark.django_db(transaction=True)
def test_field_add_indexed_builds_the_index(application):
    klass = class_create(application=application, name="c", fields={"a": "string"})
    field = field_add(klass=klass, name="score", type="float", indexed=True)
    assert field.indexed
    assert any("'score'" in d for d in class_indexes(klass).values())


@pytest.mark.django_db(transaction=True)
def test_removing_a_field_drops_its_index(application, add_record):
    klass = class_create(
        application=application,
        name="c",
        fields=[{"name": "a", "type": "integer", "indexed": True}, {"name": "b", "type": "date"}],
    )
    add_record(klass, {"a": 1})
    assert len(class_indexes(klass)) == 1
    assert field_remove(field=klass.fields.get(name="a")) == 1
    assert class_indexes(klass) == {}


@pytest.mark.django_db(transaction=True)
def test_deleting_a_class_drops_its_indexes(application):
    klass = class_create(
        application=application,
        name="c",
        fields=[{"name": n, "type": "string", "indexed": True} for n in ("x", "y")],
    )
    assert len(class_indexes(klass)) == 2
    class_delete(klass=klass)
    assert class_indexes(klass) == {}


@pytest.mark.django_db(transaction=True)
def test_import_builds_indexes_after_writing(application):
    summary = classes_import(
        application=application,
        data={
            "classes": [
                {"name": "p", "fields": [{"name": "n", "type": "integer", "indexed": True}]}
            ]
        },
    )
    assert summary["indexes_built"] == {"p": ["n"]}
    klass = application.classes.get(name="p")
    assert len(class_indexes(klass)) == 1


@pytest.mark.django_db(transaction=True)
def test_a_leftover_invalid_index_is_replaced(application):
    klass = class_create(application=application, name="c", fields={"a": "integer"})
    field = klass.fields.get()
    from records.query.expressions import index_statements

    create_sql, _ = index_statements(klass, field)
    # A stale index of the same name on the wrong expression, as a crashed build leaves.
    stale = (
        create_sql.split(" ON ")[0] + f" ON records_record (id) WHERE object_class_id = {klass.pk}"
    )
    with connection.cursor() as cursor:
        cursor.execute(stale)
    field_set_indexed(field=field, indexed=True)
    [(_, definition)] = class_indexes(klass).items()
    assert "'a'" in definition


@pytest.mark.django_db
def test_inside_a_transaction_the_index_is_built_without_concurrently(application):
    # The `db` fixture wraps the test in a transaction, as the console's views are.
    klass = class_create(application=application, name="c", fields={"a": "integer"})
    field_set_indexed(field=klass.fields.get(), indexed=True)
    assert len(class_indexes(klass)) == 1
    field_set_indexed(field=klass.fields.get(), indexed=False)
    assert class_indexes(klass) == {}


@pytest.mark.django_db(transaction=True)
def test_indexes_left_by_a_cascade_are_found_and_dropped(application, other_application):
    kept = class_create(
        application=application,
        name="kept",
        fields=[{"name": "a", "type": "integer", "indexed": True}],
    )
    gone = class_create(
        application=other_application,
        name="gone",
        fields=[{"name": "a", "type": "integer", "indexed": True}],
    )
    [orphan] = class_indexes(gone)
    other_application.delete()  # the ORM cascade removes the class, not its index
    out = io.StringIO()
    call_command("drop_orphan_indexes", "--dry-run", stdout=out)
    assert f"would drop {orphan}" in out.getvalue()
    assert orphan in class_indexes(gone)

    call_command("drop_orphan_indexes", stdout=io.StringIO())
    assert class_indexes(gone) == {}
    assert len(class_indexes(kept)) == 1


@pytest.mark.django_db(transaction=True)
def test_an_index_that_cannot_be_built_is_a_422_and_leaves_nothing(application, add_record):
    klass = class_create(application=application, name="c", fields={"a": "integer"})
    add_record(klass, {"a": "not a number"})  # written past the coercion layer
    field = klass.fields.get()
    with pytest.raises(Unprocessable) as info:
        field_set_indexed(field=field, indexed=True)
    assert info.value.errors["indexed"][0].startswith("the index could not be built")
    field.refresh_from_db()
    assert field.indexed is False
    assert class_indexes(klass) == {}  # no INVALID index left behind


@pytest.mark.django_db(transaction=True)
def test_import_reports_an_index_it_could_not_build(application, add_record):
    klass = class_create(application=application, name="c", fields={"a": "integer"})
    add_record(klass, {"a": "x"})
    summary = classes_import(
        application=application,
        data={
            "classes": [
                {
                    "name": "c",
                    "fields": [
                        {"name": "a", "type": "integer", "indexed": True},
                        {"name": "b", "type": "string", "indexed": True},
                    ],
                }
            ]
        },
    )
    assert summary["indexes_built"] == {"c": ["b"]}
    assert list(summary["indexes_failed"]["c"]) == ["a"]
    assert list(klass.fields.values_list("name", "indexed")) == [("a", False), ("b", True)]


@pytest.mark.django_db
def test_a_failed_build_inside_a_transaction_leaves_it_usable(application, add_record):
    klass = class_create(application=application, name="c", fields={"a": "integer"})
    add_record(klass, {"a": "x"})
    with pytest.raises(Unprocessable):
        field_set_indexed(field=klass.fields.get(), indexed=True)
    assert klass.fields.get().indexed is False  # the connection still answers
