"""The /data endpoints end to end: answer shapes of the source document, and bad input
refused with a JSON 4xx while nothing is written."""

import pytest
from django.db import connection

from classes.types import record_size
from records.models import Record

from .conftest import make_class

SEED = {
    "full_name": "Nadine Collier",
    "age": "41",
    "job": "accountant",
    "country_of_birth": "Germany",
}
MISSING = "5c0d625aca8bf43a5b8cf111"


def fields_of(body):
    return {k: v for k, v in body.items() if k not in ("_id", "created_at", "updated_at")}


# --- create -------------------------------------------------------------------------------


def test_create_answers_the_record_with_permissions(owner_api, profile, owner):
    status, body = owner_api.post("/data/profile.json", SEED)
    assert status == 201
    assert fields_of(body) == {
        "_parent_id": None,
        "full_name": "Nadine Collier",
        "age": 41,
        "job": "accountant",
        "country_of_birth": "Germany",
        "score": None,
        "active": None,
        "tags": None,
        "home": None,
        "born": None,
        "avatar": None,
        "user_id": owner.pk,
        "permissions": {
            "read": {"access": "open"},
            "update": {"access": "owner"},
            "delete": {"access": "owner"},
        },
    }
    assert len(body["_id"]) == 24 and body["created_at"] == body["updated_at"] > 1.5e9
    stored = Record.objects.get(pk=body["_id"])
    assert stored.data["age"] == 41 and stored.user_id == owner.pk


def test_create_coerces_every_type_from_a_form(owner_api, profile):
    status, body = owner_api.post(
        "/data/profile",
        {
            "age": "7",
            "score": "2.5",
            "active": "1",
            "tags": "a,b",
            "home": "10.5, -20",
            "born": "2019-09-21 21:25:00",
            "job": "null",
        },
        format="multipart",
    )
    assert status == 201
    assert (
        body["age"],
        body["score"],
        body["active"],
        body["tags"],
        body["home"],
        body["born"],
        body["job"],
    ) == (7, 2.5, True, ["a", "b"], [10.5, -20.0], "2019-09-21T21:25:00Z", None)


def test_create_with_a_parent_of_another_class(owner_api, application, profile):
    make_class(application, name="note", fields=[("text", "string")])
    _, parent = owner_api.post("/data/profile", {"age": 1})
    status, child = owner_api.post("/data/note", {"text": "hi", "_parent_id": parent["_id"]})
    assert status == 201 and child["_parent_id"] == parent["_id"]
    status, body = owner_api.get("/data/note", {"_parent_id": parent["_id"]})
    assert [i["_id"] for i in body["items"]] == [child["_id"]]


@pytest.mark.parametrize(
    "data, key",
    [
        ({"nickname": "x"}, "nickname"),
        ({"age": "forty-one"}, "age"),
        ({"age": 4.5}, "age"),
        ({"active": "maybe"}, "active"),
        ({"home": [200, 0]}, "home"),
        ({"tags": {"a": 1}}, "tags"),
        ({"born": "yesterday"}, "born"),
        ({"avatar": {"file_id": "x"}}, "avatar"),
        ({"user_id": 5}, "user_id"),
        ({"_parent_id": MISSING}, "_parent_id"),
        ({"_parent_id": "abc"}, "_parent_id"),
        ({"age') ; drop table records_record; --": 1}, "age') ; drop table records_record; --"),
    ],
)
def test_create_refuses_bad_input(owner_api, profile, data, key):
    status, body = owner_api.post("/data/profile.json", data)
    assert status == 422 and key in body["errors"], body
    assert Record.objects.count() == 0


def test_create_refuses_a_record_over_128_kb(owner_api, profile):
    data = {"full_name": "x" * 200_000}
    status, body = owner_api.post("/data/profile.json", data)
    size = record_size(data)
    assert status == 422
    assert body == {"errors": {"base": [f"record is too large (current: {size}, max: 131072)"]}}
    assert Record.objects.count() == 0


def test_unknown_class_is_404(owner_api, profile):
    for status, body in (
        owner_api.get("/data/nope"),
        owner_api.post("/data/nope", {"a": 1}),
        owner_api.get(f"/data/nope/{MISSING}"),
    ):
        assert status == 404 and body["errors"]


def test_class_of_another_application_is_404(other_application, owner_api):
    make_class(other_application)
    assert owner_api.get("/data/profile")[0] == 404


def test_session_rules(anonymous_api, app_api, profile):
    assert anonymous_api.get("/data/profile") == (
        401,
        {"errors": {"base": ["Required session does not exist"]}},
    )
    assert app_api.get("/data/profile")[0] == 200
    status, body = app_api.post("/data/profile", {"age": 1})
    assert status == 403 and body["errors"]
    assert Record.objects.count() == 0


# --- multi create -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "records",
    [
        {"0": {"age": "11"}, "1": {"age": "55"}},
        {"2": {"age": "55"}, "1": {"age": "11"}},  # the SDK counts from 1; numeric order
        [{"age": 11}, {"age": 55}],
    ],
)
def test_multi_create(owner_api, profile, records):
    status, body = owner_api.post("/data/profile/multi.json", {"record": records})
    assert status == 201
    assert body["class_name"] == "profile"
    assert [i["age"] for i in body["items"]] == [11, 55]
    assert body["items"][0]["permissions"]["update"] == {"access": "owner"}
    assert Record.objects.count() == 2


def test_multi_create_is_all_or_nothing(owner_api, profile):
    status, body = owner_api.post(
        "/data/profile/multi", {"record": {"0": {"age": "1"}, "1": {"age": "x"}, "2": {"b": 1}}}
    )
    assert status == 422
    assert body == {
        "errors": {
            "1": {"age": ["must be an integer"]},
            "2": {"b": ["is not a field of this class"]},
        }
    }
    assert Record.objects.count() == 0


def test_multi_create_limits(owner_api, profile):
    too_many = {str(i): {"age": i} for i in range(101)}
    assert owner_api.post("/data/profile/multi", {"record": too_many})[0] == 422
    assert owner_api.post("/data/profile/multi", {"record": {"a": {}}})[0] == 422
    assert owner_api.post("/data/profile/multi", {"record": "x"})[0] == 422
    assert Record.objects.count() == 0


def test_multi_create_from_a_form(owner_api, profile):
    status, body = owner_api.post(
        "/data/profile/multi",
        {"record[1][age]": "3", "record[2][age]": "4", "record[2][tags][]": ["a", "b"]},
        format="multipart",
    )
    assert status == 201
    assert [(i["age"], i["tags"]) for i in body["items"]] == [(3, None), (4, ["a", "b"])]


# --- read ---------------------------------------------------------------------------------


@pytest.fixture
def two(owner_api, profile):
    first = owner_api.post("/data/profile", SEED)[1]
    second = owner_api.post("/data/profile", {"full_name": "Lacey Idec", "age": 25})[1]
    return first, second


def test_get_by_ids(owner_api, two):
    first, second = two
    status, body = owner_api.get(f"/data/profile/{second['_id']},{first['_id']}.json")
    assert status == 200 and body["class_name"] == "profile"
    assert [i["_id"] for i in body["items"]] == [second["_id"], first["_id"]]
    assert body["items"][1]["permissions"]["read"] == {"access": "open"}


def test_get_by_ids_missing(owner_api, two):
    first, _ = two
    assert owner_api.get(f"/data/profile/{MISSING}")[0] == 404
    assert owner_api.get("/data/profile/not-an-id")[0] == 404
    status, body = owner_api.get(f"/data/profile/{first['_id']},{MISSING},zzz")
    assert status == 200 and [i["_id"] for i in body["items"]] == [first["_id"]]
    too_many = ",".join(f"{i:024x}" for i in range(101))
    assert owner_api.get(f"/data/profile/{too_many}")[0] == 422


def test_list_shape(owner_api, two):
    status, body = owner_api.get("/data/profile.json", {"age[gt]": "28", "sort_desc": "full_name"})
    assert status == 200
    assert body["class_name"] == "profile" and body["skip"] == 0 and body["limit"] == 100
    assert [i["full_name"] for i in body["items"]] == ["Nadine Collier"]
    assert "permissions" not in body["items"][0]
    assert body["items"][0]["age"] == 41


def test_list_count_output_and_calc(owner_api, two):
    assert owner_api.get("/data/profile", {"count": "1"})[1] == {
        "class_name": "profile",
        "items_count": 2,
    }
    items = owner_api.get("/data/profile", {"output[include]": "age"})[1]["items"]
    assert [set(i) for i in items] == [{"_id", "age"}, {"_id", "age"}]
    items = owner_api.get("/data/profile", {"output[exclude]": "age,_id,user_id"})[1]["items"]
    assert "age" not in items[0] and "user_id" not in items[0] and "_id" in items[0]
    status, body = owner_api.get("/data/profile", {"age[calc]": "avg", "group_by": "job"})
    assert body["items"] == [
        {"job": "accountant", "age": {"avg": 41.0}},
        {"job": None, "age": {"avg": 25.0}},
    ]


def test_list_limit_minus_one_is_the_last_record(owner_api, two):
    status, body = owner_api.get("/data/profile", {"limit": "-1"})
    assert body["limit"] == -1 and [i["_id"] for i in body["items"]] == [two[1]["_id"]]


def test_list_reads_a_get_body_like_curl_d(owner_api, two):
    response = owner_api.client.generic(
        "GET",
        "/data/profile",
        "age[gt]=28",
        content_type="application/x-www-form-urlencoded",
        HTTP_CB_TOKEN=owner_api.token,
    )
    assert response.status_code == 200
    assert [i["age"] for i in response.json()["items"]] == [41]


@pytest.mark.parametrize(
    "query, status",
    [
        ("age[gt=1", 400),
        ("age]=1", 400),
        ("age[between]=1", 400),
        ("nickname=x", 422),
        ("age=x", 422),
        ("limit=1000", 422),
        ("skip=-1", 422),
        ("age%27)%3B%20drop%20table%20records_record--=1", 422),
        ("sort_asc=age%27)%3B%20drop%20table%20records_record--", 422),
    ],
)
def test_list_refuses_bad_queries(owner_api, two, query, status):
    got, body = owner_api.get(f"/data/profile.json?{query}")
    assert got == status and body["errors"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM records_record")
        assert cursor.fetchone()[0] == 2


def test_list_query_count_does_not_grow_with_records(owner_api, profile, django_assert_num_queries):
    for i in range(3):
        owner_api.post("/data/profile", {"age": i})
    # the session (with the schema version) and the records; the class is cached
    with django_assert_num_queries(2):
        assert len(owner_api.get("/data/profile")[1]["items"]) == 3
    owner_api.post("/data/profile/multi", {"record": [{"age": i} for i in range(40)]})
    with django_assert_num_queries(2):
        assert len(owner_api.get("/data/profile", {"age[gte]": "0"})[1]["items"]) == 43


# --- update -------------------------------------------------------------------------------


def test_update_by_id(owner_api, two):
    first, _ = two
    status, body = owner_api.put(
        f"/data/profile/{first['_id']}.json", {"age": "22", "job": "technical director"}
    )
    assert status == 200
    assert (body["age"], body["job"], body["full_name"]) == (
        22,
        "technical director",
        "Nadine Collier",
    )
    assert body["permissions"]["update"] == {"access": "owner"}
    assert Record.objects.get(pk=first["_id"]).data["job"] == "technical director"


def test_update_null_clears_in_json_and_form(owner_api, two):
    first, _ = two
    assert owner_api.put(f"/data/profile/{first['_id']}", {"job": None})[1]["job"] is None
    status, body = owner_api.put(
        f"/data/profile/{first['_id']}", {"age": "null"}, format="multipart"
    )
    assert status == 200 and body["age"] is None
    assert "age" not in Record.objects.get(pk=first["_id"]).data


def test_update_refuses_bad_input(owner_api, two):
    first, _ = two
    for data in (
        {"age": "x"},
        {"nickname": 1},
        {"inc": {"job": 1}},
        {"push": {"age": 1}},
        {"created_at": 5},
        {"inc": "age"},
        {"full_name": "y" * 140_000},
    ):
        status, body = owner_api.put(f"/data/profile/{first['_id']}", data)
        assert status == 422 and body["errors"], data
    assert Record.objects.get(pk=first["_id"]).data == {
        "full_name": "Nadine Collier",
        "age": 41,
        "job": "accountant",
        "country_of_birth": "Germany",
    }
    assert owner_api.put(f"/data/profile/{MISSING}", {"age": 1})[0] == 404
    assert owner_api.put(f"/data/profile/{first['_id']},{MISSING}", {"age": 1})[0] == 422


def test_update_by_criteria(owner_api, two, member, api_for):
    api_for(member).post("/data/profile", {"age": 20})  # matches, but not the owner's
    status, body = owner_api.put(
        "/data/profile/by_criteria.json",
        {"search_criteria": {"age": {"lt": 30}}, "country_of_birth": "Iran"},
    )
    assert status == 200
    assert (body["class_name"], body["skip"], body["limit"], body["total_found"]) == (
        "profile",
        0,
        100,
        1,
    )
    assert body["items"][0]["full_name"] == "Lacey Idec"
    assert body["items"][0]["country_of_birth"] == "Iran"
    assert Record.objects.filter(data__country_of_birth="Iran").count() == 1


def test_update_by_criteria_needs_criteria_and_good_values(owner_api, two):
    assert owner_api.put("/data/profile/by_criteria", {"age": 1})[0] == 422
    assert owner_api.put("/data/profile/by_criteria", {"search_criteria": {}, "age": 1})[0] == 422
    status, _ = owner_api.put(
        "/data/profile/by_criteria", {"search_criteria": {"age": {"gt": 0}}, "age": "x"}
    )
    assert status == 422
    assert (
        owner_api.put(
            "/data/profile/by_criteria", {"search_criteria": {"age": {"zz": 0}}, "age": 1}
        )[0]
        == 400
    )
    assert sorted(r.data["age"] for r in Record.objects.all()) == [25, 41]


def test_update_multi(owner_api, two):
    first, second = two
    status, body = owner_api.put(
        "/data/profile/multi.json",
        {
            "record": {
                "1": {"id": first["_id"], "country_of_birth": "USA", "age": "50"},
                "2": {"id": second["_id"], "country_of_birth": "Lithuania", "age": "28"},
                "3": {"id": MISSING, "country_of_birth": "Greece", "age": "35"},
            }
        },
    )
    assert status == 200
    assert body["not_found"] == {"ids": [MISSING]}
    assert body["wrong_permissions"] == {"ids": []}
    assert [(i["age"], i["country_of_birth"]) for i in body["items"]] == [
        (50, "USA"),
        (28, "Lithuania"),
    ]


def test_update_multi_is_all_or_nothing(owner_api, two):
    first, second = two
    status, body = owner_api.put(
        "/data/profile/multi",
        {
            "record": {
                "1": {"id": first["_id"], "age": "50"},
                "2": {"id": second["_id"], "age": "x"},
            }
        },
    )
    assert status == 422 and "2" in body["errors"]
    assert Record.objects.get(pk=first["_id"]).data["age"] == 41


# --- delete -------------------------------------------------------------------------------


def test_delete_one(owner_api, two):
    first, _ = two
    status, body = owner_api.delete(f"/data/profile/{first['_id']}.json")
    assert (status, body) == (200, None)
    assert not Record.objects.filter(pk=first["_id"]).exists()
    assert owner_api.delete(f"/data/profile/{first['_id']}")[0] == 404
    assert owner_api.delete("/data/profile/nonsense")[0] == 404


def test_delete_by_criteria_from_query_string_or_form(owner_api, two):
    assert owner_api.delete("/data/profile/by_criteria.json?age[gte]=41") == (
        200,
        {"total_deleted": 1},
    )
    client = owner_api.client
    response = client.delete(
        "/data/profile/by_criteria.json",
        "age[lt]=30",
        content_type="application/x-www-form-urlencoded",
        HTTP_CB_TOKEN=owner_api.token,
    )
    assert response.status_code == 200 and response.json() == {"total_deleted": 1}
    assert Record.objects.count() == 0


def test_delete_by_criteria_refuses_bad_or_empty_criteria(owner_api, two):
    assert owner_api.delete("/data/profile/by_criteria")[0] == 422
    assert owner_api.delete("/data/profile/by_criteria?nickname=x")[0] == 422
    assert owner_api.delete("/data/profile/by_criteria?age[lt]=x")[0] == 422
    assert Record.objects.count() == 2


def test_multi_create_and_update_take_a_bare_array(owner_api, profile):
    status, body = owner_api.post("/data/profile/multi", [{"age": 1}, {"age": 2}])
    assert status == 201 and [i["age"] for i in body["items"]] == [1, 2]
    ids = [i["_id"] for i in body["items"]]
    status, body = owner_api.put("/data/profile/multi", [{"_id": ids[1], "age": 5}])
    assert status == 200 and [i["age"] for i in body["items"]] == [5]
