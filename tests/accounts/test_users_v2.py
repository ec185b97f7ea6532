"""GET /users/v2: every example of the reference page's v2 section, valid and invalid,
and the rules around them (paging, sorting, privacy, applications)."""

import json
from datetime import UTC, datetime

import pytest

from accounts.models import ApiUser
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def put_user(application, pk, login, **fields):
    """A user with a chosen id and chosen times (auto_now fields set after saving)."""
    times = {
        k: fields.pop(k) for k in ("created_at", "updated_at", "last_request_at") if k in fields
    }
    user = ApiUser(pk=pk, application=application, login=login, **fields)
    user.set_password("x" * 8)
    user.save()
    ApiUser.objects.filter(pk=pk).update(**{k: at(v) for k, v in times.items()})
    return user


@pytest.fixture
def people(application):
    put_user(application, 51946, "gabby", full_name="Gabrielle Corcoran",
             tags=["vip", "accountant"], last_request_at="2019-01-01T00:00:00Z")  # fmt: skip
    put_user(application, 51943, "ppavalli", full_name="Pallavi Purushottam",
             tags=["accountant"], last_request_at="2018-01-01T00:00:00Z")  # fmt: skip
    put_user(application, 52671, "smithguest18", full_name="David Smith", phone="5464579797975",
             tags=["guest"], created_at="2018-12-06T09:16:26Z",
             last_request_at="2019-12-07T10:21:41Z")  # fmt: skip
    put_user(application, 60001, "smith1", phone="6754987345566", tags=["guest"],
             created_at="2024-01-01T00:00:00Z", updated_at="2018-12-01T00:00:00Z",
             last_request_at="2020-11-09T08:21:41Z")  # fmt: skip
    put_user(application, 60002, "smith2", phone="6754987345566", tags=["guest", "vip"],
             created_at="2024-01-01T00:00:00Z", updated_at="2018-12-01T00:00:00Z",
             last_request_at="2020-11-09T08:21:42Z")  # fmt: skip
    put_user(application, 68647, "hunter", full_name="Hunter Thompson")
    put_user(application, 68648, "gatherer", full_name="hunter gatherer")


@pytest.fixture
def api(api_for, people, application):
    return api_for(ApiUser.objects.get(pk=51946))


def ids(body):
    return [u["id"] for u in body["items"]]


VALID = [
    ("id=51946", [51946]),
    (
        "id[in][]=51946&id[in][]=51943&last_request_at[gt]=2018-12-06T09:21:41Z",
        [51946],
    ),
    ("user_tags=guest", [52671, 60001, 60002]),
    ("user_tags=guest&created_at[lt]=1690886495", [52671]),
    (
        "login=smith1&phone=6754987345566&user_tags[nin][]=vip"
        "&updated_at[lte]=2018-12-06T09:21:41Z",
        [60001],
    ),
    ("phone=6754987345566&last_request_at=2020-11-09T08:21:41Z", [60001]),
    ("full_name[start_with]=hunter&id[nin][]=68647", [68648]),
]


@pytest.mark.parametrize(("query", "expected"), VALID)
def test_valid_examples_of_the_page(api, query, expected):
    status, body = api.get(f"/users/v2?{query}")
    assert status == 200, body
    assert ids(body) == expected
    assert body["total_entries"] == len(expected)


INVALID = [
    ("login[nin][]=admin19", "base", "stand-alone field"),
    ("user_tags[nin][]=guest", "base", "stand-alone field"),
    ("last_request_at=2017-07-06T11:21:41Z", "base", "primary operator"),
    ("created_at[gte]=2019-11-06T09:21:41Z", "base", "primary operator"),
    ("login[start_with]=vip", "login[start_with]", "at least 4 characters"),
]


@pytest.mark.parametrize(("query", "key", "reason"), INVALID)
def test_invalid_examples_of_the_page(api, query, key, reason):
    status, body = api.get(f"/users/v2?{query}")
    assert status == 422, body
    assert reason in " ".join(body["errors"][key])


def test_the_request_example_of_the_page(api):
    status, body = api.get(
        "/users/v2?id[in][]=52671&id[in][]=51943&phone=5464579797975"
        "&last_request_at[gt]=2018-12-06T09:21:41Z&sort_desc=id&limit=10"
    )
    assert status == 200
    assert body["limit"] == 10 and body["skip"] == 0 and body["total_entries"] == 1
    (user,) = body["items"]
    assert user["id"] == 52671 and user["login"] == "smithguest18"
    assert user["last_request_at"] == "2019-12-07T10:21:41Z"
    assert set(user) == {
        "id", "full_name", "email", "login", "phone", "website", "created_at", "updated_at",
        "last_request_at", "external_user_id", "external_id", "facebook_id", "twitter_id",
        "blob_id", "custom_data", "avatar", "user_tags", "timezone",
    }  # fmt: skip


def test_a_stand_alone_field_refuses_compare_operators(api):
    status, body = api.get("/users/v2?id=51946&login[gt]=a")
    assert status == 422
    assert "can't be used with the compare operator gt" in body["errors"]["login"][0]


def test_unknown_field_is_422_and_unknown_operator_400(api):
    status, body = api.get("/users/v2?id=51946&password=x")
    assert status == 422 and "password" in body["errors"]
    status, body = api.get("/users/v2?id[like]=5")
    assert status == 400 and "unknown operator" in body["errors"]["id"][0]


def test_bad_values_are_422_naming_the_parameter(api):
    assert api.get("/users/v2?id=abc")[1]["errors"] == {"id": ["Enter a whole number."]}
    status, body = api.get("/users/v2?id=51946&created_at[gt]=yesterday")
    assert status == 422 and "created_at[gt]" in body["errors"]
    status, body = api.get("/users/v2?id=99999999999999999999")
    assert status == 422


def test_start_with_caps_the_page_at_five(api, application):
    for n in range(7):
        make_user(application, f"walker{n}")
    status, body = api.get("/users/v2?login[start_with]=WALK")
    assert status == 200
    assert body["limit"] == 5 and len(body["items"]) == 5 and body["total_entries"] == 7
    assert api.get("/users/v2?login[start_with]=walk&limit=2")[1]["limit"] == 2


def test_offset_limit_and_total(api):
    status, body = api.get("/users/v2?user_tags[in][]=guest&user_tags[in][]=vip&limit=2&offset=1")
    assert status == 200
    assert (body["skip"], body["limit"], body["total_entries"]) == (1, 2, 4)
    assert ids(body) == [52671, 60001]


@pytest.mark.parametrize("query", ["limit=101", "limit=0", "offset=-1", "limit=x"])
def test_paging_out_of_range_is_422(api, query):
    status, body = api.get(f"/users/v2?id=51946&{query}")
    assert status == 422


def test_sorting(api):
    _, body = api.get("/users/v2?user_tags=guest&sort_desc=last_request_at")
    assert ids(body) == [60002, 60001, 52671]
    _, body = api.get("/users/v2?user_tags=guest&sort_asc=created_at")
    assert ids(body) == [52671, 60001, 60002]
    status, body = api.get("/users/v2?user_tags=guest&sort_asc=password")
    assert status == 422 and "sort_asc" in body["errors"]


def test_email_matches_in_any_case_and_login_exactly(api, application):
    make_user(application, "Dana")  # email dana@example.com
    assert ids(api.get("/users/v2?email=DANA@example.com")[1]) != []
    assert ids(api.get("/users/v2?login=dana")[1]) == []
    assert len(ids(api.get("/users/v2?login=Dana")[1])) == 1


def test_nothing_crosses_applications(api, other_application):
    put_user(other_application, 70000, "smith1-elsewhere", phone="6754987345566", tags=["guest"])
    _, body = api.get("/users/v2?user_tags=guest")
    assert 70000 not in ids(body)
    assert api.get("/users/v2?id=70000")[1]["items"] == []


def test_contacts_of_other_users_are_hidden_by_default(api, application):
    _, body = api.get("/users/v2?id[in][]=51946&id[in][]=52671")
    me, other = body["items"]
    assert me["id"] == 51946 and me["phone"] is None  # own user: shown (it has none)
    assert other["phone"] is None and other["email"] is None
    status, body = api.get("/users/v2?phone[start_with]=5464")
    assert status == 422 and "exact value" in body["errors"]["phone"][0]
    assert ids(api.get("/users/v2?phone=5464579797975")[1]) == [52671]
    application.users_show_contacts = True
    application.save()
    _, body = api.get("/users/v2?phone[start_with]=5464")
    assert body["items"][0]["phone"] == "5464579797975"


def test_own_user_sees_own_contacts(api_for, application):
    dana = make_user(application, "dana")
    _, body = api_for(dana).get(f"/users/v2?id={dana.pk}")
    assert body["items"][0]["email"] == "dana@example.com"


def test_needs_a_session(anonymous_api):
    assert anonymous_api.get("/users/v2?id=1")[0] == 401


def test_sql_statements_per_page(api, django_assert_max_num_queries):
    # the session (and its touch), the count, the page: no query per user
    with django_assert_max_num_queries(5):
        status, body = api.get("/users/v2?user_tags[in][]=guest&user_tags[in][]=vip&limit=2")
    assert status == 200 and body["total_entries"] == 4


@pytest.mark.parametrize(
    ("query", "key"),
    [("login=", "login"), ("login[start_with]=", "login[start_with]"),
     ("id[in][]=", "id[in]"), ("login[start_with][]=abcd", "login[start_with]"),
     ("id[eq][x]=1", "id"), ("id[in][x]=1", "id[in]"), ("user_tags[in][]=", "user_tags[in]")],
)  # fmt: skip
def test_blank_or_misshapen_values_are_422_never_everything(api, query, key):
    status, body = api.get(f"/users/v2?{query}")
    assert status == 422, body
    assert key in body["errors"]


def test_a_json_body_with_numbers_works_too(api):
    response = api.client.generic(
        "GET", "/users/v2", json.dumps({"id": {"in": [51946, 51943]}, "limit": 1}),
        content_type="application/json", HTTP_CB_TOKEN=api.token,
    )  # fmt: skip
    assert response.status_code == 200
    assert [u["id"] for u in response.json()["items"]] == [51943]
