"""events.wakeup: the API's single-record writes notify the journal's listeners after their
commit, from another connection; every other writer is still notified by the trigger."""

import psycopg
import pytest
from django.db import connection, transaction

from events.hub import listen_params
from events.models import CHANNEL
from records.models import Record


@pytest.fixture
def listener(db_committed):
    conn = psycopg.connect(autocommit=True, **listen_params())
    conn.execute(f"LISTEN {CHANNEL}")
    yield conn
    conn.close()


def notifiers(listener, timeout=5.0) -> set[int]:
    """The backend pids that notified, waiting up to `timeout` for the first."""
    pids = {n.pid for n in listener.notifies(timeout=timeout, stop_after=1)}
    pids |= {n.pid for n in listener.notifies(timeout=0.2)}
    return pids


def django_backend() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_an_api_create_and_update_notify_after_their_commit(owner_api, thing, listener):
    writer = django_backend()
    status, body = owner_api.post("/data/thing", {"name": "a"})
    assert status == 201
    created = notifiers(listener)
    assert created and writer not in created  # not from inside the writing transaction
    assert owner_api.put(f"/data/thing/{body['_id']}", {"inc": {"age": 1}})[0] == 200
    updated = notifiers(listener)
    assert updated and writer not in updated


def test_other_writers_are_notified_by_the_trigger(thing, owner, listener):
    writer = django_backend()
    Record.objects.create(
        id="f" * 24,
        application_id=thing.application_id,
        object_class=thing,
        user_id=owner.pk,
        created_at=1,
        updated_at=1,
        data={"name": "by the ORM"},
    )
    assert notifiers(listener) == {writer}


def test_a_rolled_back_write_wakes_nobody(create, listener):
    with pytest.raises(RuntimeError), transaction.atomic():
        create(name="never")
        raise RuntimeError("roll back")
    assert notifiers(listener, timeout=0.5) == set()
    create(name="kept")
    assert notifiers(listener)


def test_wakes_in_quick_succession_share_notifications_spaced_by_the_read_gap(
    listener, settings, db_committed
):
    """A process notifies at most once per EVENTS_COALESCE_MS: listeners cannot read more
    often than that, so more notifications would only cost both sides."""
    import time

    from events import wakeup

    settings.EVENTS_COALESCE_MS = 300
    started = time.monotonic()
    while time.monotonic() - started < 0.9:  # a wake every 10 ms for 0.9 s
        wakeup._notifier.wake()
        time.sleep(0.01)
    received = list(listener.notifies(timeout=1.2))
    # one at once, then one per 300 ms while wakes keep coming: 4 or 5, never 90
    assert 2 <= len(received) <= 5, len(received)
