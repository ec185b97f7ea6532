"""POST /users (sign-up), GET/PUT/DELETE /users/{id} (API.md §2)."""

import re

import pytest

from accounts.models import ApiSession, ApiUser
from tests.conftest import PASSWORD, Api, make_user, token_for

pytestmark = pytest.mark.django_db

NO_SESSION = {"errors": {"base": ["Required session does not exist"]}}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
NEW_USER = {"login": "dana", "password": "correct-horse-battery", "email": "dana@example.com"}


def test_sign_up_with_an_application_session(app_api, application):
    status, body = app_api.post(
        "/users", {"user": {**NEW_USER, "full_name": "Dana Scully", "tags": "officers, doctors"}}
    )
    assert status == 201
    user = body["user"]
    assert set(user) == {
        "id", "login", "email", "full_name", "user_tags", "created_at", "updated_at",
        "last_request_at", "phone", "website", "external_user_id", "external_id",
        "facebook_id", "twitter_id", "blob_id", "custom_data", "avatar", "timezone",
    }  # fmt: skip
    assert user["login"] == "dana"
    assert user["email"] == "dana@example.com"
    assert user["full_name"] == "Dana Scully"
    assert user["user_tags"] == "officers,doctors"
    assert ISO.match(user["created_at"]) and ISO.match(user["updated_at"])
    assert user["last_request_at"] is None
    row = ApiUser.objects.get(pk=user["id"])
    assert row.application == application
    assert row.tags == ["officers", "doctors"]


def test_password_is_stored_hashed(app_api):
    _, body = app_api.post("/users", {"user": NEW_USER})
    row = ApiUser.objects.get(pk=body["user"]["id"])
    assert NEW_USER["password"] not in row.password
    assert row.check_password(NEW_USER["password"])


def test_sign_up_with_auth_key_header_and_then_log_in(application):
    status, body = Api().post(
        "/users", {"user": NEW_USER}, headers={"HTTP_CB_AUTHKEY": application.auth_key}
    )
    assert status == 201
    assert ApiUser.objects.get(pk=body["user"]["id"]).application == application
    status, body = Api().post(
        "/session",
        {
            "application_id": application.pk,
            "auth_key": application.auth_key,
            "user": {"login": "dana", "password": NEW_USER["password"]},
        },
    )
    assert status == 201


def test_sign_up_with_auth_key_goes_to_that_application(application, other_application):
    status, body = Api().post(
        "/users", {"user": NEW_USER}, headers={"HTTP_CB_AUTHKEY": other_application.auth_key}
    )
    assert status == 201
    assert ApiUser.objects.get(pk=body["user"]["id"]).application == other_application


def test_sign_up_with_wrong_auth_key(application):
    status, body = Api().post("/users", {"user": NEW_USER}, headers={"HTTP_CB_AUTHKEY": "wrong"})
    assert (status, body) == (401, {"errors": {"base": ["Unauthorized"]}})
    assert not ApiUser.objects.exists()


def test_sign_up_without_session_or_key(application):
    assert Api().post("/users", {"user": NEW_USER}) == (401, NO_SESSION)


def test_sign_up_with_a_token_of_one_application_and_key_of_another(app_api, other_application):
    status, body = app_api.post(
        "/users", {"user": NEW_USER}, headers={"HTTP_CB_AUTHKEY": other_application.auth_key}
    )
    assert (status, body) == (401, NO_SESSION)
    assert not ApiUser.objects.exists()


@pytest.mark.parametrize(
    "user, field",
    [
        ({"password": "correct-horse-battery"}, "login"),
        ({"login": "dana"}, "password"),
        ({"login": "dana", "password": "short"}, "password"),
        ({"login": "da", "password": "correct-horse-battery"}, "login"),
        ({"login": "da na", "password": "correct-horse-battery"}, "login"),
        ({"login": "dana", "email": "not-an-email", "password": "correct-horse-battery"}, "email"),
        ({"login": "dana", "password": "correct-horse-battery", "tags": {"a": 1}}, "tags"),
        ({"login": ["dana"], "password": "correct-horse-battery"}, "login"),
        (
            {"login": "dana", "password": "correct-horse-battery", "full_name": "x" * 201},
            "full_name",
        ),
    ],
)
def test_sign_up_validation_names_the_field(app_api, user, field):
    status, body = app_api.post("/users", {"user": user})
    assert status == 422
    assert field in body["errors"]
    assert not ApiUser.objects.exists()


def test_sign_up_without_user_object(app_api):
    status, body = app_api.post("/users", {"login": "dana"})
    assert status == 422
    assert "user" in body["errors"]


def test_login_and_email_are_unique_within_an_application(app_api, owner, other_application):
    status, body = app_api.post("/users", {"user": {**NEW_USER, "login": "owner"}})
    assert (status, body["errors"]) == (422, {"login": ["has already been taken"]})
    status, body = app_api.post("/users", {"user": {**NEW_USER, "email": "OWNER@example.com"}})
    assert (status, body["errors"]) == (422, {"email": ["has already been taken"]})
    # The same login in another application is another user.
    status, _ = Api(token_for(other_application)).post(
        "/users", {"user": {**NEW_USER, "login": "owner"}}
    )
    assert status == 201


def test_sign_up_as_a_form(app_api):
    response = app_api.client.post(
        "/users.json",
        "user[login]=dana&user[password]=correct-horse-battery&user[tags][]=a&user[tags][]=b",
        content_type="application/x-www-form-urlencoded",
        HTTP_CB_TOKEN=app_api.token,
    )
    assert response.status_code == 201
    assert response.json()["user"]["user_tags"] == "a,b"


# Reading users.


def test_get_a_user_of_the_application(app_api, owner):
    status, body = app_api.get(f"/users/{owner.pk}")
    assert status == 200
    assert body["user"]["id"] == owner.pk
    assert body["user"]["login"] == "owner"
    assert "password" not in body["user"]


def test_user_of_another_application_is_not_found(owner, other_application):
    api = Api(token_for(other_application))
    assert api.get(f"/users/{owner.pk}")[0] == 404
    assert api.put(f"/users/{owner.pk}", {"user": {"full_name": "x"}})[0] == 404
    assert api.delete(f"/users/{owner.pk}")[0] == 404
    assert ApiUser.objects.filter(pk=owner.pk).exists()


def test_unknown_user_is_a_404_json(app_api):
    status, body = app_api.get("/users/987654")
    assert status == 404
    assert list(body) == ["errors"]


def test_users_need_a_session(owner):
    assert Api().get(f"/users/{owner.pk}") == (401, NO_SESSION)


# Updating your own user.


def test_update_own_user(owner_api, owner):
    status, body = owner_api.put(
        f"/users/{owner.pk}",
        {"user": {"full_name": "New Name", "tags": ["a", "b"], "email": "new@example.com"}},
    )
    assert status == 200
    assert body["user"]["full_name"] == "New Name"
    assert body["user"]["user_tags"] == "a,b"
    assert body["user"]["email"] == "new@example.com"
    owner.refresh_from_db()
    assert owner.tags == ["a", "b"]


def test_tags_can_be_cleared(owner_api, owner):
    owner.tags = ["x"]
    owner.save()
    status, body = owner_api.put(f"/users/{owner.pk}", {"user": {"tags": ""}})
    assert status == 200
    assert body["user"]["user_tags"] is None


def test_update_another_user_is_forbidden(owner_api, stranger):
    status, body = owner_api.put(f"/users/{stranger.pk}", {"user": {"full_name": "Hacked"}})
    assert status == 403
    assert list(body) == ["errors"]
    stranger.refresh_from_db()
    assert stranger.full_name == "Stranger"


def test_application_session_cannot_update_users(app_api, owner):
    status, _ = app_api.put(f"/users/{owner.pk}", {"user": {"full_name": "x"}})
    assert status == 403


def test_password_change_needs_the_old_password(owner_api, owner, application):
    status, body = owner_api.put(f"/users/{owner.pk}", {"user": {"password": "brand-new-password"}})
    assert status == 422
    assert "old_password" in body["errors"]
    status, body = owner_api.put(
        f"/users/{owner.pk}",
        {"user": {"password": "brand-new-password", "old_password": "wrong-one"}},
    )
    assert status == 422
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)

    status, _ = owner_api.put(
        f"/users/{owner.pk}", {"user": {"password": "brand-new-password", "old_password": PASSWORD}}
    )
    assert status == 200
    login = {"application_id": application.pk, "auth_key": application.auth_key}
    assert (
        Api().post("/session", {**login, "user": {"login": "owner", "password": PASSWORD}})[0]
        == 401
    )
    assert (
        Api().post(
            "/session", {**login, "user": {"login": "owner", "password": "brand-new-password"}}
        )[0]
        == 201
    )


def test_update_cannot_take_another_users_login(owner_api, owner, stranger):
    status, body = owner_api.put(f"/users/{owner.pk}", {"user": {"login": "stranger"}})
    assert status == 422
    assert body["errors"] == {"login": ["has already been taken"]}


def test_update_cannot_remove_both_login_and_email(application):
    user = make_user(application, "solo")
    user.login = None
    user.save()
    api = Api(token_for(application, user))
    status, body = api.put(f"/users/{user.pk}", {"user": {"email": ""}})
    assert status == 422
    user.refresh_from_db()
    assert user.email == "solo@example.com"


# Deleting your own user.


def test_delete_own_user_ends_its_sessions(owner_api, owner):
    status, _ = owner_api.delete(f"/users/{owner.pk}")
    assert status == 200
    assert not ApiUser.objects.filter(pk=owner.pk).exists()
    assert not ApiSession.objects.filter(user_id=owner.pk).exists()
    assert owner_api.get("/session") == (401, NO_SESSION)


def test_delete_another_user_is_forbidden(owner_api, stranger):
    assert owner_api.delete(f"/users/{stranger.pk}")[0] == 403
    assert ApiUser.objects.filter(pk=stranger.pk).exists()


def test_delete_own_user_removes_its_blobs_and_their_files(
    owner_api, owner, stranger, application, django_capture_on_commit_callbacks
):
    from django.core.files.base import ContentFile

    from blobs.backends import storage
    from blobs.models import Blob

    mine = Blob.objects.create(
        application=application, owner=owner, name="a.txt", content_type="text/plain"
    )
    theirs = Blob.objects.create(
        application=application, owner=stranger, name="b.txt", content_type="text/plain"
    )
    for blob in (mine, theirs):
        assert storage().save(blob.key, ContentFile(b"hello")) == blob.key

    with django_capture_on_commit_callbacks(execute=True):
        status, _ = owner_api.delete(f"/users/{owner.pk}")
    assert status == 200
    assert not Blob.objects.filter(pk=mine.pk).exists()
    assert not storage().exists(mine.key)
    assert storage().exists(theirs.key)
