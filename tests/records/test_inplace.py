"""records.query.inplace: an update of plain fields and integer counters is one UPDATE, and
answers, stores and refuses exactly what the general read-change-write path does."""

import pytest
from django.db import connection

from classes.types import INT64_MAX, MAX_RECORD_BYTES
from records import services
from records.models import Record
from records.query import inplace

CASES = [
    {"inc": {"age": 1}},
    {"inc": {"age": -7}},
    {"inc": {"age": "3"}},  # coerced as the general path coerces it
    {"age": 40, "job": "pilot", "active": True},
    {"job": None, "score": None},  # null clears
    {"tags": ["a", 2, True, None], "home": [2.35, 48.85], "born": "2020-01-02T03:04:05Z"},
    {"full_name": 'Zoë "Z" \\ \u2028 \x01'},
    {"inc": {"age": 2}, "job": "set with a counter", "score": 1.5},
    {},
]


@pytest.fixture
def in_place_calls(monkeypatch):
    """What update_in_place answered on each call (a Record: it wrote)."""
    answers = []
    real = services.update_in_place

    def spy(*args):
        answers.append(real(*args))
        return answers[-1]

    monkeypatch.setattr(services, "update_in_place", spy)
    return answers


def general_path(monkeypatch):
    monkeypatch.setattr(services, "update_in_place", lambda *args: None)


def comparable(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in ("_id", "created_at", "updated_at")}


def stored(record_id) -> dict:
    return Record.objects.values().get(pk=record_id)


@pytest.mark.parametrize("changes", CASES)
def test_it_answers_and_stores_what_the_general_path_does(
    owner_api, create, changes, in_place_calls, monkeypatch
):
    fields = {"age": 5, "job": "cook", "score": 2.0, "tags": ["x"], "full_name": "A"}
    fast, slow = create(**fields), create(**fields)
    status, body = owner_api.put(f"/data/profile/{fast.pk}", changes)
    assert status == 200, body
    assert in_place_calls and in_place_calls[-1] is not None  # it did write
    general_path(monkeypatch)
    slow_status, slow_body = owner_api.put(f"/data/profile/{slow.pk}", changes)
    assert (status, comparable(body)) == (slow_status, comparable(slow_body))
    a, b = stored(fast.pk), stored(slow.pk)
    assert a["data"] == b["data"]
    assert a["updated_at"] >= fast.updated_at
    assert {k: v for k, v in a.items() if k not in ("id", "data", "created_at", "updated_at")} == {
        k: v for k, v in b.items() if k not in ("id", "data", "created_at", "updated_at")
    }


def test_an_increment_counts_from_nothing_and_from_null(owner_api, create):
    missing, null = create(job="x"), create(job="y")
    Record.objects.filter(pk=null.pk).update(data={"job": "y", "age": None})
    for record in (missing, null):
        status, body = owner_api.put(f"/data/profile/{record.pk}", {"inc": {"age": 4}})
        assert (status, body["age"]) == (200, 4)


def refusal(api, record_id, changes, monkeypatch):
    """(status, body) through both paths, which must agree."""
    status, body = api.put(f"/data/profile/{record_id}", changes)
    with monkeypatch.context() as patch:
        general_path(patch)
        assert api.put(f"/data/profile/{record_id}", changes) == (status, body)
    return status, body


def test_leaving_the_64_bit_range_is_refused_and_nothing_is_written(owner_api, create, monkeypatch):
    record = create(age=INT64_MAX - 1)
    status, body = refusal(owner_api, record.pk, {"inc": {"age": 2}}, monkeypatch)
    assert status == 422 and "64-bit" in str(body)
    assert stored(record.pk)["data"]["age"] == INT64_MAX - 1
    assert owner_api.put(f"/data/profile/{record.pk}", {"inc": {"age": 1}})[1]["age"] == INT64_MAX


def test_a_value_that_is_not_a_number_is_left_to_the_general_path(
    owner_api, create, in_place_calls, monkeypatch
):
    record = create(job="x")
    Record.objects.filter(pk=record.pk).update(data={"job": "x", "age": 2.5})
    assert owner_api.put(f"/data/profile/{record.pk}", {"inc": {"age": 1}})[1]["age"] == 3.5
    Record.objects.filter(pk=record.pk).update(data={"job": "x", "age": True})
    in_place_calls.clear()
    status, _ = owner_api.put(f"/data/profile/{record.pk}", {"inc": {"age": 1}})
    # nothing written in SQL (the caller known from the first update, then read): the
    # general path answered
    assert in_place_calls == [None, None]
    assert status == 200 and stored(record.pk)["data"]["age"] == 2  # as Python adds True + 1


def test_a_record_growing_past_the_limit_is_refused_by_the_general_path(
    owner_api, create, in_place_calls
):
    record = create(job="x" * (MAX_RECORD_BYTES - 200))
    status, body = owner_api.put(f"/data/profile/{record.pk}", {"full_name": "y" * 300})
    assert status == 422 and "too large" in str(body)
    assert in_place_calls and not any(in_place_calls)  # (the lean path and then the view)
    assert "full_name" not in stored(record.pk)["data"]
    # close to the limit but within it: the general path measures and writes
    status, body = owner_api.put(f"/data/profile/{record.pk}", {"full_name": "y" * 50})
    assert (status, body["full_name"]) == (200, "y" * 50)


def test_permissions_and_missing_records_answer_as_before(
    api_for, owner_api, create, stranger, member, monkeypatch
):
    record = create(age=1)
    assert refusal(api_for(stranger), record.pk, {"inc": {"age": 1}}, monkeypatch)[0] == 403
    assert refusal(owner_api, "a" * 24, {"inc": {"age": 1}}, monkeypatch)[0] == 404
    shared = create(
        age=1, permissions={"update": {"access": "open_for_groups", "groups": ["officers"]}}
    )
    status, body = api_for(member).put(f"/data/profile/{shared.pk}", {"inc": {"age": 1}})
    assert (status, body["age"]) == (200, 2)
    assert api_for(stranger).put(f"/data/profile/{shared.pk}", {"inc": {"age": 1}})[0] == 403
    assert stored(shared.pk)["data"]["age"] == 2


def test_other_changes_take_the_general_path(profile):
    from records.updates import plan_update

    def plan(changes):
        found, errors = plan_update(profile, changes)
        assert not errors
        return found

    assert inplace.applies(profile, plan({"inc": {"age": 1}, "job": "x", "score": None}))
    for changes in (
        {"inc": {"score": 0.5}},  # a Float: its sum is Python's float, not numeric's
        {"push": {"tags": ["a"]}},
        {"tags": {"0": "a"}},
        {"avatar": None},  # a File: the old file is deleted
        {"permissions": {"read": {"access": "owner"}}},
        {"_parent_id": None},
        {"inc": {"age": 1}, "age": 3},
    ):
        assert not inplace.applies(profile, plan(changes)), changes


def test_the_statement_names_no_field_so_one_shape_is_prepared_once(profile, owner):
    from accounts.caller import Caller
    from records.updates import plan_update

    caller = Caller.for_user(owner)
    texts = set()
    for changes in ({"inc": {"age": 1}, "job": "a"}, {"inc": {"age": 9}, "full_name": "b"}):
        sql, _ = inplace.statement(caller, profile, "a" * 24, plan_update(profile, changes)[0], 1)
        texts.add(sql)
        assert "age" not in sql and "job" not in sql
    assert len(texts) == 1
    assert connection.vendor == "postgresql"


@pytest.mark.parametrize(
    "changes",
    [
        {"inc": {"age": 2**70}},
        {"inc": {"age": "1e400"}},
        {"inc": {"age": "NaN"}},
        {"inc": {"age": True}},
        {"inc": {"age": None}},
        {"inc": {"age": -(2**63)}},
        {"inc": {"nofield": 1}},
        {"inc": {"job": 1}},
        {"inc": []},
        {"job": {"x": 1}},
        {"age": "x' OR 1=1 --"},
    ],
)
def test_hostile_bodies_get_the_general_paths_answer(owner_api, create, changes, monkeypatch):
    fast, slow = create(age=5, job="cook"), create(age=5, job="cook")
    status, body = owner_api.put(f"/data/profile/{fast.pk}", changes)
    with monkeypatch.context() as patch:
        general_path(patch)
        slow_status, slow_body = owner_api.put(f"/data/profile/{slow.pk}", changes)
    assert status in (200, 422), body
    if status == 200:
        body, slow_body = comparable(body), comparable(slow_body)
    assert (status, body) == (slow_status, slow_body)
    assert stored(fast.pk)["data"] == stored(slow.pk)["data"]
