"""The index built by `index_statements` is the one the compiler's expression can use."""

import itertools
import re

import psycopg
import pytest
from django.db import connection

from accounts.caller import Caller
from classes.models import Field, ObjectClass
from records.models import Record
from records.query import parse, sql
from records.query.expressions import field_expression, index_statements


def _explain(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.fixture
def indexed(application):
    klass = ObjectClass.objects.create(application=application, name="profile")
    fields = {
        name: Field.objects.create(object_class=klass, name=name, type=kind, indexed=True)
        for name, kind in [("age", "integer"), ("name", "string"), ("tags", "array")]
    }
    Record.objects.bulk_create(
        Record(
            id=f"{i:024x}",
            application=application,
            object_class=klass,
            user_id=1,
            created_at=0,
            updated_at=0,
            data={"age": i, "name": f"n{i}", "tags": [str(i)]},
        )
        for i in range(600)
    )
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending FK checks before DDL
        for field in fields.values():
            create, _ = index_statements(klass, field)
            # CONCURRENTLY cannot run inside the test's transaction; the index is the same.
            cursor.execute(create.replace(" CONCURRENTLY", ""))
        cursor.execute("ANALYZE records_record")
    return klass, fields


@pytest.mark.parametrize(
    "field_name, lookup, value",
    [
        ("age", "exact", 41),
        ("age", "gt", 10),
        ("age", "lte", 3),
        ("name", "exact", "n4"),
        ("name", "gte", "n2"),
    ],
)
def test_indexed_comparison_uses_the_field_index(indexed, field_name, lookup, value):
    klass, fields = indexed
    qs = (
        Record.objects.filter(object_class=klass)
        .alias(v=field_expression(fields[field_name]))
        .filter(**{f"v__{lookup}": value})
    )
    plan = _explain(qs)
    assert f"record_c{klass.pk}_f{fields[field_name].pk}" in plan, plan


def test_array_contains_uses_the_gin_index(indexed):
    klass, fields = indexed
    with connection.cursor() as cursor:  # leave the GIN index as the only field index
        for name in ("age", "name"):
            cursor.execute(index_statements(klass, fields[name])[1].replace(" CONCURRENTLY", ""))
    qs = (
        Record.objects.filter(object_class=klass)
        .alias(v=field_expression(fields["tags"]))
        .filter(v__contains=["4"])
    )
    plan = _explain(qs)
    assert f"record_c{klass.pk}_f{fields['tags'].pk}" in plan, plan
    assert qs.count() == 1


def test_drop_statement_removes_the_index(indexed):
    klass, fields = indexed
    _, drop = index_statements(klass, fields["age"])
    with connection.cursor() as cursor:
        cursor.execute(drop.replace(" CONCURRENTLY", ""))
        cursor.execute(
            "SELECT count(*) FROM pg_indexes WHERE indexname = %s",
            [f"record_c{klass.pk}_f{fields['age'].pk}"],
        )
        assert cursor.fetchone()[0] == 0


def test_near_prefilter_uses_the_location_index(application, owner):
    from accounts.caller import Caller
    from records.query.compile import filtered
    from records.query.parse import parse

    klass = ObjectClass.objects.create(application=application, name="place")
    home = Field.objects.create(object_class=klass, name="home", type="location", indexed=True)
    Record.objects.bulk_create(
        Record(
            id=f"{i:024x}",
            application=application,
            object_class=klass,
            user_id=owner.pk,
            created_at=0,
            updated_at=0,
            data={"home": [(i % 360) - 180 + 0.5, (i % 180) - 90 + 0.25]},
        )
        for i in range(1000)
    )
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(index_statements(klass, home)[0].replace(" CONCURRENTLY", ""))
        cursor.execute("ANALYZE records_record")
    klass = ObjectClass.objects.get(pk=klass.pk)
    query = parse(klass, {"home": {"near": "10.5,-79.75;50000"}})
    queryset = filtered(klass, query, Caller.for_user(owner))
    assert f"record_c{klass.pk}_f{home.pk}" in _explain(queryset)
    assert queryset.count() >= 1


def _generic_plan(statement) -> str:
    """EXPLAIN of `statement` (records.query.sql's text and parameters) planned as a
    prepared statement's generic plan: made once without its values, as PostgreSQL plans a
    statement a connection keeps sending (config.prepared.repeats_cursor)."""
    text, params = statement
    numbers = itertools.count(1)
    on_server = re.sub("%s", lambda _: f"${next(numbers)}", text)
    values = psycopg.ClientCursor(connection.connection).mogrify(
        ", ".join(["%s"] * len(params)), params
    )
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE generic AS {on_server}")
        cursor.execute(f"EXPLAIN EXECUTE generic({values})")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("DEALLOCATE generic")
    return plan


@pytest.mark.parametrize("count", [False, True])
def test_a_list_planned_without_its_values_uses_the_field_index(indexed, application, count):
    klass, fields = indexed
    params = {"age": {"gte": "10", "lt": "20"}, "sort_asc": "age", "limit": "5"}
    query = parse(klass, {**params, "count": "1"} if count else params)
    caller = Caller.admin(application)
    statement = (sql.count_sql if count else sql.page_sql)(klass, query, caller)
    plan = _generic_plan(statement)
    assert f"record_c{klass.pk}_f{fields['age'].pk}" in plan, plan
