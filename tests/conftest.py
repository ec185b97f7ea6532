"""Fixtures every test folder shares: an application, the permission cast, API clients.

The cast (API.md §4): `owner` creates records; `member` carries the tag "officers";
`listed` is a user whose id a test lists; `stranger` has nothing to do with anything;
`app_session` is an application session with no user; `admin` is a console administrator.
"""

import json
import sys
import time

import pytest
from rest_framework.test import APIClient

from accounts.caller import Caller
from accounts.models import ApiSession, ApiUser, Application
from tests.servers import app_servers  # noqa: F401  (real server processes, see there)

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, and before it is dropped at the end: no other
    session left on it. The server processes and threads the tests start close their
    connections at their teardown, but PostgreSQL ends a backend only a moment after its
    client went, and DROP DATABASE refuses while one is there (the run then ended with a
    warning and left the database behind, about one run in two)."""
    yield
    with django_db_blocker.unblock():
        left = ended_other_sessions()
    if left:
        print(f"\nsessions still open on the test database were ended: {left}", file=sys.stderr)


def ended_other_sessions(wait_seconds: float = 10.0, application_name: str | None = None):
    """Wait until no other client session uses the test database (or only those of
    `application_name`, when given); end the ones still there after `wait_seconds`.
    Answers what was ended: (application name, state, start of its last query)."""
    from django.db import connection

    sql = (
        "SELECT pid, application_name, state, left(query, 120) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND backend_type = 'client backend'"
        + (" AND application_name = %s" if application_name is not None else "")
    )
    params = [application_name] if application_name is not None else []
    deadline = time.monotonic() + wait_seconds
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # a fresh look each time
            cursor.execute(sql, params)
            others = cursor.fetchall()
            if not others or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        for pid, *_ in others:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    return [tuple(row[1:]) for row in others]


@pytest.fixture(autouse=True)
def _close_wakeup_connection():
    """A committed create or update notifies listeners from a thread with a connection of
    its own (events.wakeup): close it after each test, or the test database cannot be
    dropped at the end."""
    yield
    from events import wakeup

    wakeup.close()


class Api:
    """A thin JSON client holding a CB-Token. Answers (status, parsed body)."""

    def __init__(self, token: str | None = None):
        self.client = APIClient()
        self.token = token

    def _headers(self, headers):
        base = {"HTTP_CB_TOKEN": self.token} if self.token else {}
        return {**base, **(headers or {})}

    def request(self, method, path, data=None, *, format="json", headers=None, **extra):
        call = getattr(self.client, method.lower())
        kwargs = {**self._headers(headers), **extra}
        if method.upper() == "GET":
            response = call(path, data, **kwargs)
        else:
            response = (
                call(path, data, format=format, **kwargs)
                if data is not None
                else call(path, **kwargs)
            )
        return response.status_code, _body(response)

    def get(self, path, params=None, **kw):
        return self.request("GET", path, params, **kw)

    def post(self, path, data=None, **kw):
        return self.request("POST", path, data, **kw)

    def put(self, path, data=None, **kw):
        return self.request("PUT", path, data, **kw)

    def delete(self, path, data=None, **kw):
        return self.request("DELETE", path, data, **kw)


def _body(response):
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        return content


def make_user(application, login, *, tags=(), password=PASSWORD) -> ApiUser:
    user = ApiUser(
        application=application,
        login=login,
        email=f"{login}@example.com",
        full_name=login.title(),
        tags=list(tags),
    )
    user.set_password(password)
    user.save()
    return user


def token_for(application, user=None) -> str:
    _, token = ApiSession.open(application=application, user=user)
    return token


@pytest.fixture
def application(db):
    return Application.objects.create(name="test app")


@pytest.fixture
def other_application(db):
    return Application.objects.create(name="other app")


@pytest.fixture
def owner(application):
    return make_user(application, "owner")


@pytest.fixture
def member(application):
    return make_user(application, "member", tags=["officers"])


@pytest.fixture
def listed(application):
    return make_user(application, "listed")


@pytest.fixture
def stranger(application):
    return make_user(application, "stranger", tags=["visitors"])


@pytest.fixture
def api_for(application):
    """api_for(user) -> an Api with a fresh user session; api_for(None) -> application session."""

    def build(user=None):
        return Api(token_for(application, user))

    return build


@pytest.fixture
def owner_api(api_for, owner):
    return api_for(owner)


@pytest.fixture
def app_api(api_for):
    return api_for(None)


@pytest.fixture
def anonymous_api():
    return Api()


@pytest.fixture
def staff(client, django_user_model):
    """The Django test client logged in as a console operator."""
    django_user_model.objects.create_user(
        "boss", password="boss-password-1", is_staff=True, is_superuser=True
    )
    assert client.login(username="boss", password="boss-password-1")
    return client


@pytest.fixture
def admin_caller(application):
    return Caller.admin(application)
