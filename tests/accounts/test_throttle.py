"""Failed logins are throttled per application + login and per client address, on
POST /session with user credentials, POST /login and the console login; the counts live
in PostgreSQL, so every process and node shares them."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import LoginFailures
from tests.conftest import PASSWORD, Api, make_user, token_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def limits(settings):
    settings.LOGIN_MAX_FAILURES_PER_LOGIN = 3
    settings.LOGIN_MAX_FAILURES_PER_ADDRESS = 6
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 60
    settings.LOGIN_BLOCK_SECONDS = 120


def create_session(application, login, password, address="10.0.0.1"):
    return Api().post(
        "/session",
        {
            "application_id": application.pk,
            "auth_key": application.auth_key,
            "user": {"login": login, "password": password},
        },
        REMOTE_ADDR=address,
    )


def assert_throttled(status, body, response_headers=None):
    assert status == 429
    assert body["errors"]["base"][0].startswith("Too many failed logins: try again in")


def test_a_login_is_blocked_after_its_failures_even_with_the_right_password(application):
    make_user(application, "dana")
    for _ in range(3):
        assert create_session(application, "dana", "wrong")[0] == 401
    client = Api()
    response = client.client.post(
        "/session",
        {
            "application_id": application.pk,
            "auth_key": application.auth_key,
            "user": {"login": "dana", "password": PASSWORD},
        },
        format="json",
        REMOTE_ADDR="10.0.0.9",  # another address: the login's own count blocks it
    )
    assert response.status_code == 429
    assert 118 <= int(response["Retry-After"]) <= 120
    assert response.json()["errors"]["base"][0].startswith("Too many failed logins")


def test_other_logins_of_the_application_and_other_applications_are_not_blocked(
    application, other_application
):
    make_user(application, "dana")
    make_user(application, "erin")
    make_user(other_application, "dana")
    for _ in range(3):
        create_session(application, "dana", "wrong", address="10.0.0.1")
    assert create_session(application, "erin", PASSWORD, address="10.0.0.2")[0] == 201
    assert create_session(other_application, "dana", PASSWORD, address="10.0.0.3")[0] == 201


def test_an_address_is_blocked_after_failures_on_many_logins(application):
    make_user(application, "dana")
    for n in range(6):
        assert create_session(application, f"guess{n}", "wrong")[0] == 401
    status, body = create_session(application, "dana", PASSWORD)
    assert_throttled(status, body)
    assert create_session(application, "dana", PASSWORD, address="10.0.0.2")[0] == 201


def test_a_correct_login_forgets_its_failures(application):
    make_user(application, "dana")
    for _ in range(2):
        create_session(application, "dana", "wrong", address="10.0.0.1")
    assert create_session(application, "dana", PASSWORD, address="10.0.0.2")[0] == 201
    assert not LoginFailures.objects.filter(key__startswith="api:").exists()
    for _ in range(2):  # two more do not block: the count started again
        create_session(application, "dana", "wrong", address="10.0.0.3")
    assert create_session(application, "dana", PASSWORD, address="10.0.0.4")[0] == 201


def test_failures_after_the_window_start_a_new_count(application, settings):
    make_user(application, "dana")
    for _ in range(2):
        create_session(application, "dana", "wrong")
    LoginFailures.objects.update(
        window_start=LoginFailures.objects.first().window_start.replace(year=2020)
    )
    create_session(application, "dana", "wrong")
    row = LoginFailures.objects.get(key=f"api:{application.pk}:dana")
    assert row.failures == 1 and row.blocked_until is None


def test_post_login_on_an_application_session_is_throttled_too(application):
    make_user(application, "dana")
    api = Api(token_for(application))
    for _ in range(3):
        assert api.post("/login", {"login": "dana", "password": "wrong"})[0] == 401
    status, body = api.post("/login", {"login": "dana", "password": PASSWORD})
    assert_throttled(status, body)


def test_the_email_form_of_a_login_is_counted_by_its_email(application):
    make_user(application, "dana")
    api = Api(token_for(application))
    for _ in range(3):
        api.post("/login", {"email": "Dana@Example.com", "password": "wrong"})
    status, _ = api.post("/login", {"email": "dana@example.com", "password": PASSWORD})
    assert status == 429


def test_the_console_login_is_throttled(db):
    get_user_model().objects.create_superuser("boss", "", "boss-password-1")
    client = Client(REMOTE_ADDR="10.0.0.1")
    for _ in range(3):
        response = client.post("/admin/login/", {"username": "boss", "password": "nope"})
        assert response.status_code == 200  # the form again, with its error
    response = client.post("/admin/login/", {"username": "boss", "password": "boss-password-1"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert b"Too many failed logins" in response.content
    assert (
        Client(REMOTE_ADDR="10.0.0.2")
        .post("/admin/login/", {"username": "boss", "password": "boss-password-1"})
        .status_code
        == 429
    )


def test_a_console_login_that_succeeds_forgets_its_failures(db):
    get_user_model().objects.create_superuser("boss", "", "boss-password-1")
    client = Client()
    client.post("/admin/login/", {"username": "boss", "password": "nope"})
    response = client.post("/admin/login/", {"username": "boss", "password": "boss-password-1"})
    assert response.status_code == 302
    assert not LoginFailures.objects.filter(key="console:boss").exists()


def test_a_correct_login_reads_the_throttle_once_and_writes_nothing(application):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_user(application, "dana")
    with CaptureQueriesContext(connection) as queries:
        assert create_session(application, "dana", PASSWORD)[0] == 201
    touching = [q["sql"] for q in queries if "accounts_login_failures" in q["sql"]]
    assert len(touching) == 1 and touching[0].startswith("SELECT")
