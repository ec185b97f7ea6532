"""Classes, records and a reader of the journal for the events tests.

The journal is only read once a transaction has committed, so these tests run with
`transactional_db` (each test's writes really commit)."""

import pytest

from accounts.caller import Caller
from events import journal, listeners
from records import services
from tests.records.conftest import make_class

FIELDS = [("name", "string"), ("age", "integer"), ("tags", "array")]


@pytest.fixture
def db_committed(transactional_db):
    """Writes in these tests commit, as a server's do."""


@pytest.fixture
def thing(application, db_committed):
    """A class listened to, as a subscription registers it: its changes are journaled
    (events.listeners)."""
    klass = make_class(application, name="thing", fields=FIELDS)
    listeners.listen([klass.pk])
    return klass


@pytest.fixture
def create(thing, owner):
    def build(user=None, klass=None, **data):
        caller = Caller.for_user(user or owner)
        return services.record_create(caller=caller, klass=klass or thing, data=data)

    return build


class Reader:
    """Reads the journal from where it was made, as a hub does. The journal keeps only the
    classes someone listens to: register them first (`listeners.listen`)."""

    def __init__(self):
        self.position = journal.now_position()

    def read(self) -> list:
        page = journal.read_final(self.position)
        self.position = page.position
        return page.rows


@pytest.fixture
def reader(db_committed):
    return Reader()


@pytest.fixture(autouse=True)
def _close_hub_connections():
    """Hubs' threads and asgiref's thread for sync code keep a database connection open
    (a server closes the latter per request; the test client does not): close them, or the
    test database cannot be dropped."""
    yield
    from asgiref.sync import SyncToAsync

    from events.hub import close_connection, close_hub_connections

    close_hub_connections()
    SyncToAsync.single_thread_executor.submit(close_connection).result(timeout=10)
