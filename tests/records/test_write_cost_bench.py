"""bench/write_cost.py takes apart the statements the API really sends for a create and an
`inc` update: if their text changes shape, it must still find them and run them."""

import random

import pytest
from django.db import connection

from bench import write_cost
from records.models import Record
from tests.conftest import token_for
from tests.records.conftest import make_class

FIELDS = [("n", "integer"), ("score", "float"), ("name", "string"), ("tags", "array")]


@pytest.fixture
def item(application):
    return make_class(application, "item", FIELDS)


@pytest.fixture
def caught(api_for, owner, item):
    """(a record the owner made with n = 1, the statements the API sent for a create and
    for an increment of that record)"""
    status, body = api_for(owner).post("/data/item", {"n": 1})
    assert status == 201
    return body["_id"], write_cost.api_statements(token_for(item.application, owner), body["_id"])


def test_it_runs_the_apis_own_insert_and_update(caught, item):
    first, statements = caught

    assert set(statements) == {"create", "update"}
    assert Record.objects.get(pk=first).data["n"] == 2  # the API's own inc, captured
    rng = random.Random(1)
    created = write_cost.measure(statements["create"], [first], 3, rng)
    updated = write_cost.measure(statements["update"], [first], 3, rng)
    # three more records, each with a fresh id; the record incremented three more times
    assert Record.objects.filter(object_class=item, data__name="written").count() == 4
    assert Record.objects.get(pk=first).data["n"] == 5
    for figures in (created, updated):
        journal = next(part for part in figures if part.startswith("trigger: events_journal"))
        assert 0 < figures[journal] < figures["execution, all"]
        assert figures["WAL bytes, commit included"] > 0


def test_with_the_journal_off_no_journal_trigger_runs(caught):
    first, statements = caught
    with connection.cursor() as cursor:  # the test's transaction holds deferred key checks
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    write_cost.journal(False)
    figures = write_cost.measure(statements["update"], [first], 2, random.Random(1))
    write_cost.journal(True)

    assert not any(part.startswith("trigger: events_journal") for part in figures)
    assert Record.objects.get(pk=first).data["n"] == 4


def test_the_floor_is_given_the_statements_the_api_sends(api_for, owner, item):
    """bench/async_floor.py replays these statements: the create's with a fresh id and
    the request's body, the update's with the path's id, the list's as they are."""
    from bench import async_floor

    token = token_for(item.application, owner)
    ids = [api_for(owner).post("/data/item", {"n": 100_000 + i})[1]["_id"] for i in range(3)]

    plan = async_floor.plan(token, ids)

    assert plan["listed"] == 3
    create, update, page = (
        plan["requests"][key] for key in ("POST /data/item", "PUT /data/item/*", "GET /data/item")
    )
    assert create["sql"].startswith("INSERT INTO records_record")
    assert create["params"][create["fresh"]] != ids[0]  # the API's own create, not a given id
    assert create["params"][create["body"]].startswith("{")
    assert update["params"][update["path_id"]] == ids[0]
    assert page["sql"].startswith("SELECT") and "LIMIT 20" in page["sql"]
