"""POST/GET/DELETE /session, POST/DELETE /login (API.md §2)."""

import hashlib
import hmac
import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiSession, hash_token
from tests.conftest import PASSWORD, Api

pytestmark = pytest.mark.django_db

NO_SESSION = {"errors": {"base": ["Required session does not exist"]}}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def creds(app, **extra):
    return {"application_id": app.pk, "auth_key": app.auth_key, **extra}


def signed(app, secret=None, **params):
    """The QuickBlox signature, built here from its description rather than the server's code:
    sorted `key=value` pairs (nested as `user[login]`) joined by `&`, HMAC-SHA1 hex."""
    flat = {}
    for key, value in params.items():
        if isinstance(value, dict):
            flat.update({f"{key}[{k}]": v for k, v in value.items()})
        else:
            flat[key] = value
    message = "&".join(f"{k}={flat[k]}" for k in sorted(flat))
    digest = hmac.new((secret or app.auth_secret).encode(), message.encode(), hashlib.sha1)
    return {**params, "signature": digest.hexdigest()}


@pytest.fixture
def anon():
    return Api()


def test_application_session_has_user_id_zero_and_a_working_token(anon, application):
    status, body = anon.post("/session", creds(application))
    assert status == 201
    session = body["session"]
    assert session["application_id"] == application.pk
    assert session["user_id"] == 0
    assert ISO.match(session["created_at"]) and ISO.match(session["updated_at"])
    status, body = Api(session["token"]).get("/session")
    assert status == 200
    assert body["session"]["id"] == session["id"]
    assert body["session"]["token"] == session["token"]


def test_user_session_by_login_and_by_email(anon, application, owner):
    status, body = anon.post(
        "/session", creds(application, user={"login": "owner", "password": PASSWORD})
    )
    assert status == 201
    assert body["session"]["user_id"] == owner.pk
    assert body["session"]["user"]["login"] == "owner"
    status, body = anon.post(
        "/session", creds(application, user={"email": "OWNER@example.com", "password": PASSWORD})
    )
    assert status == 201
    assert body["session"]["user_id"] == owner.pk


def test_token_is_stored_only_as_a_digest(anon, application):
    _, body = anon.post("/session", creds(application))
    token = body["session"]["token"]
    row = ApiSession.objects.get(pk=body["session"]["id"])
    assert row.token_hash == hash_token(token)
    assert token not in row.token_hash


def test_form_encoded_session_request(anon, application, owner):
    response = anon.client.post(
        "/session",
        f"application_id={application.pk}&auth_key={application.auth_key}"
        f"&user[login]=owner&user[password]={PASSWORD}",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 201
    assert response.json()["session"]["user_id"] == owner.pk


@pytest.mark.parametrize(
    "change",
    [
        {"auth_key": "wrong-key"},
        {"application_id": 999999},
        {"application_id": "not a number"},
        {"application_id": "1" * 40},
        {"application_id": 1.5},
        {"auth_key": "ключ"},
        {"user": {"login": "owner", "password": "wrong-password"}},
        {"user": {"login": "nobody", "password": PASSWORD}},
        {"user": {"email": "nobody@example.com", "password": PASSWORD}},
        {"user": {"login": "owner"}},
        {"user": "owner"},
    ],
)
def test_wrong_credentials_all_answer_the_same_401(anon, application, owner, change):
    status, body = anon.post("/session", {**creds(application), **change})
    assert status == 401
    assert body == {"errors": {"base": ["Unauthorized"]}}
    assert ApiSession.objects.count() == 0


def test_credentials_of_one_application_do_not_open_another(
    anon, application, other_application, owner
):
    status, _ = anon.post(
        "/session", creds(other_application, user={"login": "owner", "password": PASSWORD})
    )
    assert status == 401
    status, _ = anon.post(
        "/session", {"application_id": other_application.pk, "auth_key": application.auth_key}
    )
    assert status == 401


# Signatures (the older ConnectyCube/QuickBlox scheme).


def test_signed_session_request_is_accepted(anon, application, owner):
    params = signed(
        application,
        **creds(application),
        nonce="8341",
        timestamp=int(time.time()),
        user={"login": "owner", "password": PASSWORD},
    )
    status, body = anon.post("/session", params)
    assert status == 201
    assert body["session"]["user_id"] == owner.pk
    assert body["session"]["nonce"] == "8341"


def test_signed_application_session_as_a_form(anon, application):
    params = signed(application, **creds(application), nonce="77", timestamp=int(time.time()))
    response = anon.client.post("/session.json", params, format="multipart")
    assert response.status_code == 201, response.content


def test_wrong_signature_is_refused(anon, application):
    params = signed(
        application,
        secret="not-the-secret",
        **creds(application),
        nonce="1",
        timestamp=int(time.time()),
    )
    status, body = anon.post("/session", params)
    assert status == 401
    assert body == {"errors": {"base": ["Unauthorized"]}}


def test_signature_over_other_parameters_is_refused(anon, application):
    params = signed(application, **creds(application), nonce="1", timestamp=int(time.time()))
    params["nonce"] = "2"
    status, _ = anon.post("/session", params)
    assert status == 401


def test_stale_timestamp_is_refused(anon, application, settings):
    stale = int(time.time()) - settings.SIGNATURE_MAX_AGE_SECONDS - 60
    params = signed(application, **creds(application), nonce="1", timestamp=stale)
    status, body = anon.post("/session", params)
    assert status == 401
    assert body == {"errors": {"base": ["Unauthorized"]}}


def test_signature_without_nonce_is_refused(anon, application):
    params = signed(application, **creds(application), timestamp=int(time.time()))
    status, _ = anon.post("/session", params)
    assert status == 401


# Reading and ending a session.


@pytest.mark.parametrize("token", [None, "", "unknown-token", "ü" * 10])
def test_no_or_unknown_token_is_the_sdk_text(token):
    api = Api(token)
    status, body = api.get("/session")
    assert status == 401
    assert body == NO_SESSION


def test_token_in_query_string(app_api, anon):
    status, body = anon.get("/session", {"token": app_api.token})
    assert status == 200
    assert body["session"]["user_id"] == 0


def test_delete_session_invalidates_the_token(anon, application):
    _, body = anon.post("/session", creds(application))
    api = Api(body["session"]["token"])
    status, content = api.delete("/session")
    assert status == 200
    assert content is None
    assert api.get("/session") == (401, NO_SESSION)
    assert ApiSession.objects.count() == 0


def test_stale_token_does_not_block_creating_a_session(application):
    status, body = Api("stale-token").post("/session", creds(application))
    assert status == 201


# Expiry: two hours after the last request, sliding.


def _age(token, seconds):
    ApiSession.objects.filter(token_hash=hash_token(token)).update(
        updated_at=timezone.now() - timedelta(seconds=seconds)
    )


def test_session_expires_two_hours_after_its_last_request(app_api, settings):
    assert settings.SESSION_TTL_SECONDS == 7200
    _age(app_api.token, 7200 + 5)
    assert app_api.get("/session") == (401, NO_SESSION)
    assert ApiSession.objects.count() == 0


def test_each_request_extends_the_session(app_api):
    _age(app_api.token, 7200 - 30)
    status, _ = app_api.get("/session")
    assert status == 200
    session = ApiSession.objects.get()
    assert (timezone.now() - session.updated_at).total_seconds() < 5
    # An hour and a half later the session still lives: the clock restarted at the request.
    _age(app_api.token, 5400)
    assert app_api.get("/session")[0] == 200


def test_user_request_records_last_request_at(owner_api, owner):
    _age(owner_api.token, 600)
    owner_api.get("/session")
    owner.refresh_from_db()
    assert owner.last_request_at is not None
    assert (timezone.now() - owner.last_request_at).total_seconds() < 5


# Login and logout on a session.


def test_login_turns_an_application_session_into_a_user_session(app_api, owner):
    status, body = app_api.post("/login", {"login": "owner", "password": PASSWORD})
    assert status == 200
    assert body["user"]["id"] == owner.pk
    assert app_api.get("/session")[1]["session"]["user_id"] == owner.pk


def test_login_with_nested_user_and_email(app_api, owner):
    status, body = app_api.post(
        "/login", {"user": {"email": "owner@example.com", "password": PASSWORD}}
    )
    assert status == 200
    assert body["user"]["login"] == "owner"


def test_login_with_wrong_password_keeps_the_application_session(app_api, owner):
    status, body = app_api.post("/login", {"login": "owner", "password": "nope-nope-nope"})
    assert (status, body) == (401, {"errors": {"base": ["Unauthorized"]}})
    assert app_api.get("/session")[1]["session"]["user_id"] == 0


def test_login_cannot_reach_a_user_of_another_application(other_application, owner):
    from tests.conftest import token_for

    other = Api(token_for(other_application))
    status, _ = other.post("/login", {"login": "owner", "password": PASSWORD})
    assert status == 401


def test_login_needs_a_session(anon, owner):
    assert anon.post("/login", {"login": "owner", "password": PASSWORD}) == (401, NO_SESSION)


def test_logout_returns_to_an_application_session(owner_api):
    status, _ = owner_api.delete("/login")
    assert status == 200
    status, body = owner_api.get("/session")
    assert status == 200
    assert body["session"]["user_id"] == 0


# A token belongs to one application.


def test_token_with_the_key_of_another_application_is_refused(app_api, other_application):
    status, body = app_api.get("/session", headers={"HTTP_CB_AUTHKEY": other_application.auth_key})
    assert (status, body) == (401, NO_SESSION)


def test_token_with_its_own_application_key_is_fine(app_api, application):
    status, _ = app_api.get("/session", headers={"HTTP_CB_AUTHKEY": application.auth_key})
    assert status == 200


def test_deleting_an_application_ends_its_sessions(app_api, application):
    application.delete()
    assert app_api.get("/session") == (401, NO_SESSION)


def test_logging_in_sets_last_request_at(anon, app_api, application, owner, member):
    anon.post("/session", creds(application, user={"login": "owner", "password": PASSWORD}))
    app_api.post("/login", {"login": "member", "password": PASSWORD})
    for user in (owner, member):
        user.refresh_from_db()
        assert (timezone.now() - user.last_request_at).total_seconds() < 5


def test_social_login_is_refused_not_turned_into_an_application_session(anon, application):
    status, body = anon.post(
        "/session", creds(application, provider="facebook", keys={"token": "fb-token"})
    )
    assert status == 422
    assert "provider" in body["errors"]
    assert not ApiSession.objects.exists()


def test_get_session_carries_the_user_of_a_user_session(owner_api, app_api, owner):
    status, body = owner_api.get("/session")
    assert status == 200
    assert body["session"]["user"]["id"] == owner.pk
    assert "user" not in app_api.get("/session")[1]["session"]


def test_authenticating_a_request_is_one_query(owner_api, django_assert_num_queries):
    owner_api.get("/session")  # the first request may write the touch
    with django_assert_num_queries(1):
        status, _ = owner_api.get("/session")
    assert status == 200
