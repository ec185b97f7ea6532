"""Update operators on every type they apply to, in JSON and in forms; wrong types refused."""

import pytest

from records.models import Record


@pytest.fixture
def record(owner_api, profile):
    status, body = owner_api.post(
        "/data/profile",
        {
            "full_name": "Nadine",
            "age": 41,
            "score": 4.5,
            "tags": ["a", "b", 5, "a"],
            "active": True,
        },
    )
    assert status == 201
    return body["_id"]


def put(api, record, data, **kw):
    return api.put(f"/data/profile/{record}.json", data, **kw)


def stored(record):
    return Record.objects.get(pk=record).data


@pytest.mark.parametrize(
    "change, field, expected",
    [
        ({"inc": {"age": 1}}, "age", 42),
        ({"inc": {"age": "-2"}}, "age", 39),
        ({"inc": {"age": 1.0}}, "age", 42),
        ({"inc": {"score": 0.25}}, "score", 4.75),
        ({"inc": {"score": "-1"}}, "score", 3.5),
        ({"inc": {"age": 1}, "age": 10}, "age", 11),  # set first, then the operator
        ({"push": {"tags": ["c", "d"]}}, "tags", ["a", "b", 5, "a", "c", "d"]),
        ({"push": {"tags": "c"}}, "tags", ["a", "b", 5, "a", "c"]),
        ({"push": {"tags": 7}}, "tags", ["a", "b", 5, "a", 7]),
        ({"add_to_set": {"tags": ["a", "z", "z"]}}, "tags", ["a", "b", 5, "a", "z"]),
        ({"add_to_set": {"tags": "5"}}, "tags", ["a", "b", 5, "a"]),
        ({"pull": {"tags": "a"}}, "tags", ["b", 5]),
        ({"pull": {"tags": "5"}}, "tags", ["a", "b", "a"]),
        ({"pull": {"tags": {"gt": 4}}}, "tags", ["a", "b", "a"]),
        ({"pull": {"tags": {"in": ["a", "b"]}}}, "tags", [5]),
        ({"pull": {"tags": {"ne": "a"}}}, "tags", ["a", "a"]),
        ({"pull_all": {"tags": ["a", 5]}}, "tags", ["b"]),
        ({"pop": {"tags": 1}}, "tags", ["a", "b", 5]),
        ({"pop": {"tags": "-1"}}, "tags", ["b", 5, "a"]),
        ({"tags": {"0": "x"}}, "tags", ["x", "b", 5, "a"]),
        ({"tags": {"1": "y", "5": "z"}}, "tags", ["a", "y", 5, "a", None, "z"]),
        ({"tags": ["only"]}, "tags", ["only"]),
        ({"tags": None}, "tags", None),
        ({"home": "1.5,2.5"}, "home", [1.5, 2.5]),
        ({"born": 0}, "born", "1970-01-01T00:00:00Z"),
        ({"active": "false"}, "active", False),
    ],
)
def test_update_operator(owner_api, record, change, field, expected):
    status, body = put(owner_api, record, change)
    assert status == 200, body
    assert body[field] == expected
    assert stored(record).get(field) == expected


def test_operators_on_fields_that_start_empty(owner_api, profile):
    _, body = owner_api.post("/data/profile", {"full_name": "empty"})
    status, body = put(
        owner_api, body["_id"], {"inc": {"age": 3, "score": 1.5}, "push": {"tags": "a"}}
    )
    assert (body["age"], body["score"], body["tags"]) == (3, 1.5, ["a"])
    status, body = put(owner_api, body["_id"], {"pop": {"tags": 1}, "pull": {"tags": "zz"}})
    assert body["tags"] == []


def test_operators_from_a_form_body(owner_api, record):
    status, body = put(
        owner_api,
        record,
        {"inc[age]": "2", "push[tags][]": ["c", "d"], "pull[tags]": "b", "job": "null"},
        format="multipart",
    )
    assert status == 200
    assert body["age"] == 43 and body["tags"] == ["a", 5, "a", "c", "d"] and body["job"] is None


@pytest.mark.parametrize(
    "change, key",
    [
        ({"inc": {"full_name": 1}}, "full_name"),
        ({"inc": {"tags": 1}}, "tags"),
        ({"inc": {"active": 1}}, "active"),
        ({"inc": {"age": 1.5}}, "age"),
        ({"inc": {"age": "x"}}, "age"),
        ({"inc": {"age": 2**63}}, "age"),
        ({"inc": {"nope": 1}}, "nope"),
        ({"push": {"age": 1}}, "age"),
        ({"push": {"tags": [{"a": 1}]}}, "tags"),
        ({"add_to_set": {"home": [1, 2]}}, "home"),
        ({"pull": {"score": 1}}, "score"),
        ({"pull": {"tags": {"between": 1}}}, "tags"),
        ({"pull_all": {"born": ["x"]}}, "born"),
        ({"pop": {"tags": 2}}, "tags"),
        ({"pop": {"full_name": 1}}, "full_name"),
        ({"age": {"0": 1}}, "age"),
        ({"tags": {"x": 1}}, "tags"),
        ({"push": "tags"}, "push"),
        ({"_parent_id": "5c0d625aca8bf43a5b8cf111"}, "_parent_id"),
    ],
)
def test_operator_on_the_wrong_type_is_refused(owner_api, record, change, key):
    before = stored(record)
    status, body = put(owner_api, record, change)
    assert status == 422 and key in body["errors"], body
    assert stored(record) == before


def test_inc_overflow_is_refused(owner_api, record):
    put(owner_api, record, {"age": 2**63 - 1})
    status, body = put(owner_api, record, {"inc": {"age": 1}})
    assert status == 422 and "age" in body["errors"]
    assert stored(record)["age"] == 2**63 - 1


def test_update_that_grows_past_128_kb_is_refused(owner_api, record):
    put(owner_api, record, {"full_name": "x" * 100_000})
    status, body = put(owner_api, record, {"job": "y" * 40_000})
    assert status == 422 and body["errors"]["base"][0].startswith("record is too large (current: ")
    assert "job" not in stored(record)


def test_update_moves_updated_at_and_keeps_created_at(owner_api, record):
    Record.objects.filter(pk=record).update(created_at=100, updated_at=100)
    status, body = put(owner_api, record, {"age": 1})
    assert body["created_at"] == 100 and body["updated_at"] > 100


def test_update_by_criteria_applies_operators_to_each(owner_api, profile):
    for age in (1, 2, 3):
        owner_api.post("/data/profile", {"age": age, "tags": ["t"]})
    status, body = owner_api.put(
        "/data/profile/by_criteria",
        {"search_criteria": {"age": {"gte": 2}}, "inc": {"age": 10}, "push": {"tags": "u"}},
    )
    assert status == 200 and body["total_found"] == 2
    assert sorted((r.data["age"], tuple(r.data["tags"])) for r in Record.objects.all()) == [
        (1, ("t",)),
        (12, ("t", "u")),
        (13, ("t", "u")),
    ]
