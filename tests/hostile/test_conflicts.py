"""A deadlock or serialization failure is retried, and answers 409 when it cannot be."""

import pytest
from django.db import OperationalError, transaction

from config.api.errors import exception_handler
from config.transactions import ATTEMPTS, Conflict, atomic_with_retry


class _PgError(Exception):
    def __init__(self, sqlstate):
        self.sqlstate = sqlstate


def _collision(sqlstate="40P01") -> OperationalError:
    exc = OperationalError("deadlock detected")
    exc.__cause__ = _PgError(sqlstate)
    return exc


def _flaky(failures: int, sqlstate="40P01"):
    calls = []

    @atomic_with_retry
    def write():
        calls.append(1)
        if len(calls) <= failures:
            raise _collision(sqlstate)
        return "done"

    return write, calls


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
def test_a_collision_is_run_again(sqlstate):
    write, calls = _flaky(2, sqlstate)
    assert write() == "done"
    assert len(calls) == 3


@pytest.mark.django_db(transaction=True)
def test_a_collision_that_keeps_happening_is_a_409():
    write, calls = _flaky(ATTEMPTS)
    with pytest.raises(Conflict):
        write()
    assert len(calls) == ATTEMPTS


@pytest.mark.django_db
def test_inside_an_outer_transaction_it_is_a_409_at_once():
    write, calls = _flaky(1)
    with pytest.raises(Conflict), transaction.atomic():
        write()
    assert len(calls) == 1


@pytest.mark.django_db(transaction=True)
def test_other_operational_errors_are_not_retried():
    @atomic_with_retry
    def write():
        raise OperationalError("server closed the connection")

    with pytest.raises(OperationalError):
        write()


def test_the_handler_answers_409_for_a_collision_outside_the_retry():
    response = exception_handler(_collision(), {})
    assert response.status_code == 409
    assert "retry" in response.data["errors"]["base"][0]


@pytest.mark.django_db(transaction=True)
def test_a_child_whose_create_collides_is_created_on_another_attempt(
    application, owner, monkeypatch
):
    """A create with a parent locks the parent, then writes: a delete of that parent can
    deadlock with it (seen in tests/hostile/test_record_races.py as a 409)."""
    from records import services
    from tests.conftest import Api, token_for
    from tests.records.conftest import make_class

    make_class(application)
    api = Api(token_for(application, owner))
    parent = api.post("/data/profile", {"job": "parent"})[1]["_id"]
    real, calls = services._missing_parents, []

    def collides_once(*args):
        calls.append(args)
        if len(calls) == 1:
            raise _collision()
        return real(*args)

    monkeypatch.setattr(services, "_missing_parents", collides_once)
    status, body = api.post("/data/profile", {"_parent_id": parent, "job": "child"})
    assert (status, body["_parent_id"], len(calls)) == (201, parent, 2)
