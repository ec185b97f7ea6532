"""The deprecated v1 list (GET /users) and its by_* routes, behind the application's
console setting "list users API v1"."""

import pytest

from accounts.models import ApiUser
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def v1(application):
    application.users_api_v1 = True
    application.save()
    return application


@pytest.fixture
def crowd(application):
    users = [
        make_user(application, "dacia", tags=["accountant"]),
        make_user(application, "gabby", tags=["vip", "accountant"]),
        make_user(application, "ppavalli"),
    ]
    ApiUser.objects.filter(pk=users[0].pk).update(
        external_user_id=52691165, facebook_id="91234409", twitter_id="83510562734",
        full_name="Dacia Kail",
    )  # fmt: skip
    return users


@pytest.fixture
def api(api_for, crowd):
    return api_for(crowd[2])


@pytest.mark.parametrize(
    "path",
    ["/users", "/users/by_login?login=dacia", "/users/by_email?email=dacia@example.com",
     "/users/by_full_name?full_name=Dacia%20Kail", "/users/by_tags?tags=vip",
     "/users/by_facebook_id?facebook_id=91234409", "/users/external/52691165"],
)  # fmt: skip
def test_v1_is_off_by_default(api, path):
    status, body = api.get(path)
    assert status == 403
    assert "list users API v1" in body["errors"]["base"][0]


def test_list_pages_as_v1_does(v1, api, crowd):
    status, body = api.get("/users?per_page=2")
    assert status == 200
    assert (body["current_page"], body["per_page"], body["total_entries"]) == (1, 2, 3)
    assert [item["user"]["login"] for item in body["items"]] == ["dacia", "gabby"]
    _, body = api.get("/users?per_page=2&page=2")
    assert [item["user"]["login"] for item in body["items"]] == ["ppavalli"]
    assert api.get("/users?per_page=101")[0] == 422


def test_filters_and_order(v1, api, crowd):
    first = crowd[0].pk

    def logins(query):
        status, body = api.get(f"/users?{query}")
        assert status == 200, body
        return [item["user"]["login"] for item in body["items"]]

    assert logins(f"filter[]=number+id+gt+{first}") == ["gabby", "ppavalli"]
    assert logins(f"filter[]=number+id+ge+{first}&filter[]=number+id+lt+{first + 2}") == [
        "dacia", "gabby",
    ]  # fmt: skip
    assert logins(f"filter[]=number+id+ne+{first}") == ["gabby", "ppavalli"]
    assert logins(f"filter[]=number+id+between+{first + 1},{first + 2}") == ["gabby", "ppavalli"]
    assert logins("filter[]=string+login+in+dacia,ppavalli") == ["dacia", "ppavalli"]
    assert logins("filter[]=string+user_tags+in+vip") == ["gabby"]
    assert logins("filter[]=string+full_name+eq+Dacia Kail") == ["dacia"]
    assert logins("order=desc+string+login") == ["ppavalli", "gabby", "dacia"]
    assert logins(f"filter[]=date+created_at+ge+2000-01-01&filter[]=number+id+eq+{first}") == [
        "dacia"
    ]


@pytest.mark.parametrize(
    ("query", "status"),
    [("filter[]=number+id+like+5", 400), ("filter[]=id+gt", 400),
     ("filter[]=string+custom_data+eq+x", 422), ("filter[]=number+id+gt+abc", 422),
     ("order=sideways+string+login", 400), ("order=asc+string+password", 422)],
)  # fmt: skip
def test_bad_filters(v1, api, query, status):
    assert api.get(f"/users?{query}")[0] == status


def test_by_routes(v1, api, crowd):
    assert api.get("/users/by_login?login=dacia")[1]["user"]["id"] == crowd[0].pk
    assert api.get("/users/by_email?email=DACIA@example.com")[1]["user"]["id"] == crowd[0].pk
    assert api.get("/users/by_facebook_id?facebook_id=91234409")[1]["user"]["id"] == crowd[0].pk
    assert api.get("/users/by_twitter_id?twitter_id=83510562734")[1]["user"]["login"] == "dacia"
    assert api.get("/users/external/52691165")[1]["user"]["login"] == "dacia"
    assert api.get("/users/by_login?login=nobody")[0] == 404
    assert api.get("/users/by_login")[0] == 422
    _, body = api.get("/users/by_full_name?full_name=dacia kail")
    assert body["total_entries"] == 1 and body["items"][0]["user"]["login"] == "dacia"
    _, body = api.get("/users/by_tags?tags=vip,accountant")
    assert [i["user"]["login"] for i in body["items"]] == ["dacia", "gabby"]
    _, body = api.get("/users/by_tags?tags[]=vip&per_page=1")
    assert body["per_page"] == 1 and body["total_entries"] == 1


def test_v1_hides_contacts_of_others(v1, api, crowd):
    _, body = api.get("/users/by_login?login=dacia")
    assert body["user"]["email"] is None
    assert api.get("/users?order=asc+string+email")[0] == 422
    assert api.get("/users?filter[]=string+email+gt+a")[0] == 422
    assert api.get("/users?filter[]=string+email+eq+dacia@example.com")[0] == 200


def test_delete_own_user_by_external_id(v1, api_for, crowd):
    assert api_for(crowd[1]).delete("/users/external/52691165")[0] == 403
    assert api_for(crowd[0]).delete("/users/external/52691165")[0] == 200
    assert not ApiUser.objects.filter(pk=crowd[0].pk).exists()


def test_the_setting_is_per_application(v1, api, other_application):
    make_user(other_application, "elsewhere")
    _, body = api.get("/users")
    assert "elsewhere" not in [i["user"]["login"] for i in body["items"]]
    assert api.get("/users/by_login?login=elsewhere")[0] == 404
