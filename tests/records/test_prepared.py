"""config.prepared: the session, get, create and update statements (in place and
compare-and-set) are prepared on the server once per connection, inside Django's
transactions, and not at all when turned off; a list or a count is prepared once the
connection has sent its statement a few times. The statements go through libpq, so what
psycopg's cursor did for them is checked here too: a transaction begun by the first
statement of an atomic block, named parameters, database errors as Django raises them,
statements prepared again when the server lost them."""

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import DataError, IntegrityError, connection, transaction
from psycopg.pq import TransactionStatus

from accounts.selectors import session_sql
from config import prepared as prepared_module
from config.prepared import prepared_cursor
from records.query.rows import INSERT_SQL, SELECT_SQL, UPDATE_SQL
from records.query.sql import COUNT, SELECT_LISTED

ROOT = Path(__file__).resolve().parent.parent.parent
HOT = {
    "session": session_sql(lean=True),  # the lean path (config.lane) sends these requests
    "get": SELECT_SQL,
    "create": INSERT_SQL,
    "create, the session checked": INSERT_SQL.split(") VALUES")[0] + ") SELECT",
    "update": UPDATE_SQL,
    "update in place": 'UPDATE "records_record" SET "data" = jsonb_set(',
}


_names = itertools.count()


def unique_name() -> str:
    return f"cubebase_test_{os.getpid()}_{next(_names)}"


def run(sql: str, value):
    """The one value `sql` selects for `value`, through a prepared cursor."""
    with prepared_cursor() as cursor:
        cursor.execute(sql, [value])
        return cursor.fetchone()[0]


def on_server(sql: str) -> int:
    """How many prepared statements on this connection are `sql` (named by its AS)."""
    return sum(sql.split(" AS ")[1] in s for s in prepared())


def prepared() -> list[str]:
    """The statements prepared on this test's connection (the one the test client uses)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def prepared_hot() -> dict[str, int]:
    """How many times each hot statement is prepared (its %s are $1... on the server)."""
    names = {name: sql.split("%s")[0] for name, sql in HOT.items()}
    found = prepared()
    return {name: sum(s.startswith(start) for s in found) for name, start in names.items()}


def age(api, record_id) -> int:
    return api.get(f"/data/profile/{record_id}")[1]["items"][0]["age"]


def use_every_hot_statement(owner_api, record_id) -> None:
    """The second create and the increment are written for the caller the first create
    read, the session checked by their own statement (config.lane, guarded routes); the
    push is not an update in place, so the session is read for it."""
    assert owner_api.post("/data/profile", {"age": 3})[0] == 201
    assert owner_api.get(f"/data/profile/{record_id}")[0] == 200
    assert owner_api.put(f"/data/profile/{record_id}", {"inc": {"age": 1}})[0] == 200
    assert owner_api.put(f"/data/profile/{record_id}", {"push": {"tags": ["x"]}})[0] == 200
    assert owner_api.post("/data/profile", {"age": 3})[0] == 201


def test_the_hot_statements_are_prepared_once_per_connection(owner_api, create):
    record = create(age=1)
    use_every_hot_statement(owner_api, record.pk)
    once = prepared_hot()  # earlier tests on this connection may have prepared them too
    assert min(once.values()) >= 1, once
    for _ in range(3):
        use_every_hot_statement(owner_api, record.pk)
    assert prepared_hot() == once
    assert age(owner_api, record.pk) == 5


def test_a_rolled_back_savepoint_leaves_them_prepared(owner_api, create):
    record = create(age=1)
    use_every_hot_statement(owner_api, record.pk)
    before = prepared_hot()
    try:
        with transaction.atomic():  # a savepoint inside the test's transaction
            assert owner_api.put(f"/data/profile/{record.pk}", {"inc": {"age": 10}})[0] == 200
            raise RuntimeError("roll it back")
    except RuntimeError:
        pass
    assert age(owner_api, record.pk) == 2
    use_every_hot_statement(owner_api, record.pk)
    assert prepared_hot() == before
    assert age(owner_api, record.pk) == 3


@pytest.mark.django_db
def test_a_statement_first_prepared_in_a_rolled_back_savepoint_still_runs():
    sql = f"SELECT %s::int + 1 AS {unique_name()}"  # a text no other test sends
    try:
        with transaction.atomic():
            assert run(sql, 1) == 2
            raise RuntimeError("roll it back")
    except RuntimeError:
        pass
    assert run(sql, 2) == 3
    assert on_server(sql) == 1


@pytest.mark.django_db(transaction=True)
def test_statements_dropped_behind_its_back_are_prepared_again():
    sql = f"SELECT %s::int * 2 AS {unique_name()}"
    assert run(sql, 2) == 4
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # as a pooler's DISCARD ALL would
    assert run(sql, 3) == 6
    assert on_server(sql) == 1


@pytest.mark.django_db(transaction=True)
def test_the_first_statement_of_a_transaction_begins_it():
    def transaction_id():
        with prepared_cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()::text WHERE %s", [True])
            return cursor.fetchone()[0]

    with transaction.atomic():
        first = transaction_id()  # the atomic block's first statement
        assert connection.connection.pgconn.transaction_status == TransactionStatus.INTRANS
        assert transaction_id() == first
    assert connection.connection.pgconn.transaction_status == TransactionStatus.IDLE
    assert transaction_id() != first


@pytest.mark.django_db
def test_past_the_kept_number_the_least_recently_used_is_dropped(monkeypatch):
    monkeypatch.setattr(prepared_module, "KEPT", 3)
    texts = [f"SELECT %s::int + {n} AS {unique_name()}" for n in range(4)]
    for n, sql in enumerate(texts[:3]):
        assert run(sql, 10) == 10 + n
    assert run(texts[0], 20) == 20  # used again: texts[1] is now the least recent
    assert run(texts[3], 10) == 13
    assert [on_server(sql) for sql in texts] == [1, 0, 1, 1]
    assert run(texts[1], 10) == 11  # prepared again
    assert [on_server(sql) for sql in texts] == [1, 1, 0, 1]


@pytest.mark.django_db
def test_parameters_by_name_and_an_escaped_percent():
    with prepared_cursor() as cursor:
        cursor.execute(
            "SELECT %(a)s::int + %(b)s::int + %(a)s::int, '100%%', %(empty)s::int[]",
            {"a": 1, "b": 10, "empty": []},
        )
        assert cursor.fetchone() == (12, "100%", [])
        cursor.execute("SELECT %s::text", ["x"])
        assert cursor.fetchall() == [("x",)]
        assert cursor.fetchone() is None


def test_the_connections_execute_wrappers_see_every_statement(owner_api, create):
    """As under Django's cursor wrapper: the metrics' database time is such a wrapper."""
    record = create(age=1)
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        use_every_hot_statement(owner_api, record.pk)
    for name, sql in HOT.items():
        assert any(s.startswith(sql.split("%s")[0]) for s in seen), name


@pytest.mark.django_db
def test_a_database_error_is_djangos():
    with pytest.raises(DataError, match="division by zero"):
        with transaction.atomic():
            with prepared_cursor() as cursor:
                cursor.execute("SELECT 1 / %s::int", [0])
    with pytest.raises(IntegrityError):
        with transaction.atomic():
            with prepared_cursor() as cursor:  # an application's name is NOT NULL
                cursor.execute("INSERT INTO accounts_application (name) VALUES (%s)", [None])
    with prepared_cursor() as cursor:  # the savepoints rolled back, the transaction goes on
        cursor.execute("SELECT %s::int", [7])
        assert cursor.fetchone() == (7,)


def test_turned_off_nothing_is_prepared_and_requests_still_work(owner_api, create, monkeypatch):
    record = create(age=1)
    before = prepared()
    monkeypatch.delitem(connection.settings_dict["OPTIONS"], "prepare_threshold")
    use_every_hot_statement(owner_api, record.pk)
    assert age(owner_api, record.pk) == 2
    for low in range(8):
        assert owner_api.get(f"/data/profile?age[gte]={low}&count=1")[0] == 200
    assert prepared() == before


def test_the_setting_turns_them_off():
    def options(value):
        env = {
            **os.environ,
            "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",  # never connected to
            "DATABASE_REPLICA_URL": "postgres://nobody@127.0.0.1:1/replica",
            "DATABASE_PREPARED_STATEMENTS": value,
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
        code = (
            "import django; django.setup(); from django.conf import settings;"
            "print(sorted((a, d['OPTIONS'].get('prepare_threshold'))"
            " for a, d in settings.DATABASES.items()))"
        )
        run = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        return run.stdout.strip()

    assert options("1") == "[('default', 5), ('replica', 5)]"
    assert options("0") == "[('default', None), ('replica', None)]"


def prepared_lists(klass) -> list[str]:
    """The list and count statements of `klass` prepared on this test's connection."""
    class_term = f'"records_record"."object_class_id" = {klass.pk}'
    return sorted(s.split(" FROM ")[0] for s in prepared() if class_term in s)


def test_a_list_and_a_count_sent_again_and_again_are_prepared(owner_api, create, profile):
    for age_value in range(10):
        create(age=age_value)

    def listed(low):
        status, body = owner_api.get(f"/data/profile?age[gte]={low}&sort_desc=age&limit=3")
        assert status == 200
        return [item["age"] for item in body["items"]]

    def counted(low):
        status, body = owner_api.get(f"/data/profile?age[gte]={low}&count=1")
        assert status == 200
        return body["items_count"]

    for low in range(4):  # below psycopg's threshold: sent as they come, planned each time
        assert listed(low) == [9, 8, 7] and counted(low) == 10 - low
    assert prepared_lists(profile) == []
    for low in range(4, 10):  # the fifth time on, prepared; the answers follow the values
        assert listed(low) == [9, 8, 7][: 10 - low] and counted(low) == 10 - low
    assert prepared_lists(profile) == sorted([SELECT_LISTED, COUNT])
