"""Who is online, the password reset email and page, and deleting a user."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.models import ApiSession, ApiUser
from tests.conftest import PASSWORD, Api, make_user, token_for

pytestmark = pytest.mark.django_db


def seen(user, minutes_ago):
    ApiUser.objects.filter(pk=user.pk).update(
        last_request_at=timezone.now() - timedelta(minutes=minutes_ago)
    )


def test_online_users_and_their_count(api_for, application, owner, member, stranger, settings):
    settings.USERS_ONLINE_MINUTES = 5
    seen(owner, 1)
    seen(member, 4)
    seen(stranger, 6)
    api = Api(token_for(application, None))  # an application session: nobody's request
    status, body = api.get("/users/online")
    assert status == 200
    assert [u["login"] for u in body["users"]] == ["owner", "member"]
    assert body["users"][0]["email"] is None
    assert api.get("/users/online?count=true")[1] == {"count": 2}
    assert api.get("/users/online?count=1")[1] == {"count": 2}
    assert [u["login"] for u in api.get("/users/online?limit=1&offset=1")[1]["users"]] == ["member"]
    assert api.get("/users/online?limit=101")[0] == 422
    settings.USERS_ONLINE_MINUTES = 10
    assert api.get("/users/online?count=1")[1] == {"count": 3}


def test_online_never_crosses_applications(app_api, owner, other_application):
    seen(make_user(other_application, "elsewhere"), 1)
    assert app_api.get("/users/online?count=1")[1] == {"count": 0}


def test_a_user_session_counts_as_online_from_login(application, owner):
    api = Api()
    status, _ = api.post(
        "/session",
        {"application_id": application.pk, "auth_key": application.auth_key,
         "user": {"login": "owner", "password": PASSWORD}},
    )  # fmt: skip
    assert status == 201
    assert Api(token_for(application)).get("/users/online?count=1")[1] == {"count": 1}


def _link(message) -> str:
    return re.search(r"https?://\S+", message.body).group(0)


def test_reset_sends_a_link_that_sets_a_new_password(app_api, owner, application):
    other_session = token_for(application, owner)
    status, body = app_api.post("/users/password/reset", {"email": "OWNER@example.com"})
    assert (status, body) == (200, None)
    (message,) = mail.outbox
    assert message.to == ["owner@example.com"]
    link = _link(message)
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(link)
    assert page.status_code == 200 and b"New password" in page.content
    csrf = page.cookies["csrftoken"].value
    answer = browser.post(link, {"password": "brand-new-secret", "confirm": "brand-new-secret",
                                 "csrfmiddlewaretoken": csrf})  # fmt: skip
    assert answer.status_code == 200 and b"Password changed" in answer.content
    owner.refresh_from_db()
    assert owner.check_password("brand-new-secret")
    assert not ApiSession.objects.filter(user=owner).exists()
    assert Api(other_session).get("/session")[0] == 401
    # the link works once
    assert browser.get(link).status_code == 400


def test_reset_page_refuses_short_or_differing_passwords(app_api, owner):
    app_api.post("/users/password/reset", {"email": "owner@example.com"})
    link = _link(mail.outbox[0])
    client = Client()
    page = client.post(link, {"password": "short", "confirm": "short"})
    assert b"too short" in page.content
    page = client.post(link, {"password": "long-enough-1", "confirm": "long-enough-2"})
    assert b"differ" in page.content
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


def test_a_forged_link_is_refused(client, owner):
    assert client.get("/users/password/reset/MQ/abc-def").status_code == 400
    assert client.get("/users/password/reset/!!/abc-def").status_code == 400


def test_reset_answers_the_same_for_an_unknown_email(app_api, owner, other_application):
    make_user(other_application, "elsewhere")
    for email in ("nobody@example.com", "elsewhere@example.com"):
        assert app_api.post("/users/password/reset", {"email": email}) == (200, None)
    assert mail.outbox == []
    assert app_api.post("/users/password/reset", {})[0] == 422


def test_reset_as_the_page_shows_it_with_get(app_api, owner):
    assert app_api.get("/users/password/reset?email=owner@example.com")[0] == 200
    assert len(mail.outbox) == 1


def test_a_mail_server_failure_still_answers_200(app_api, owner, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 1
    assert app_api.post("/users/password/reset", {"email": "owner@example.com"}) == (200, None)


def test_delete_ends_every_session_of_the_user(application, owner, member):
    tokens = [token_for(application, owner) for _ in range(3)]
    keep = token_for(application, member)
    assert Api(tokens[0]).delete(f"/users/{owner.pk}")[0] == 200
    for token in tokens:
        assert Api(token).get("/session") == (
            401, {"errors": {"base": ["Required session does not exist"]}},
        )  # fmt: skip
    assert Api(keep).get("/session")[0] == 200
    assert not ApiUser.objects.filter(pk=owner.pk).exists()
