"""The end of a test run: the test database can be dropped although a client that just
left still has its session ending, or one was left open (tests/conftest.py)."""

import threading
import urllib.parse

import psycopg
import pytest

from tests.conftest import ended_other_sessions
from tests.servers import database_url_for_tests


def _connect(name: str) -> psycopg.Connection:
    url = database_url_for_tests()
    separator = "&" if "?" in url else "?"
    return psycopg.connect(
        f"{url}{separator}application_name={urllib.parse.quote(name)}", autocommit=True
    )


@pytest.mark.django_db
def test_a_session_that_ends_meanwhile_is_waited_for():
    leaving = _connect("cubebase-test-leaving")
    threading.Timer(0.3, leaving.close).start()
    assert ended_other_sessions(5, "cubebase-test-leaving") == []
    assert ended_other_sessions(0, "cubebase-test-leaving") == []


@pytest.mark.django_db
def test_a_session_left_open_is_ended():
    left = _connect("cubebase-test-left")
    left.execute("SELECT 1")
    assert ended_other_sessions(0.2, "cubebase-test-left") == [
        ("cubebase-test-left", "idle", "SELECT 1")
    ]
    with pytest.raises(psycopg.OperationalError):
        left.execute("SELECT 1")
    assert ended_other_sessions(5, "cubebase-test-left") == []  # it is gone
