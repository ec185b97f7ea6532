"""The journal keeps the changes of classes someone may read events of, and only those:
classes with a subscription open within the retention, and the classes of applications
with an enabled webhook (events.listeners)."""

import time

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from accounts.caller import Caller
from events import journal, listeners
from events.models import Event, Listener, Webhook
from records import services
from tests.conftest import token_for
from tests.events.conftest import FIELDS, Reader
from tests.events.streams import run, subscribe
from tests.records.conftest import make_class


@pytest.fixture
def quiet(application, db_committed):
    """A class nobody has listened to."""
    return make_class(application, name="quiet", fields=FIELDS)


def write_all_three(klass, owner) -> str:
    caller = Caller.for_user(owner)
    record = services.record_create(caller=caller, klass=klass, data={"name": "a", "age": 1})
    services.record_update(caller=caller, klass=klass, record_id=record.id, changes={"age": 2})
    services.record_delete(caller=caller, klass=klass, record_id=record.id)
    return record.id


def journaled(klass) -> list:
    return list(Event.objects.filter(object_class_id=klass.pk).values_list("op", flat=True))


def test_a_class_nobody_listens_to_leaves_no_journal_row(quiet, owner):
    write_all_three(quiet, owner)
    assert journaled(quiet) == []
    listeners.listen([quiet.pk])
    write_all_three(quiet, owner)
    assert journaled(quiet) == ["create", "update", "delete"]


def test_an_enabled_webhook_journals_every_class_of_its_application(quiet, owner, application):
    hook = Webhook.objects.create(application=application, url="https://example.com/hook")
    write_all_three(quiet, owner)
    assert journaled(quiet) == ["create", "update", "delete"]
    Event.objects.all().delete()
    hook.enabled = False
    hook.save()
    write_all_three(quiet, owner)
    assert journaled(quiet) == []


def test_a_lapsed_registration_is_not_journaled(quiet, owner):
    listeners.listen([quiet.pk])
    Listener.objects.filter(pk=quiet.pk).update(until=int(time.time()) - 1)
    write_all_three(quiet, owner)
    assert journaled(quiet) == []


def test_a_registration_lasts_the_retention_and_keeps_its_start_until_it_lapses(quiet, settings):
    settings.EVENTS_RETENTION_SECONDS = 3600
    before = journal.now_position()
    first = listeners.listen([quiet.pk])[quiet.pk]
    row = Listener.objects.get(pk=quiet.pk)
    assert abs(row.until - (time.time() + 3600)) < 5
    # every transaction from `since` on saw the registration: none older than the call
    assert before.lo <= first < listeners.NOT_YET
    assert listeners.listen([quiet.pk])[quiet.pk] == first  # renewed, not restarted
    assert listeners.since(quiet.pk) == first
    Listener.objects.filter(pk=quiet.pk).update(until=int(time.time()) - 1)
    assert listeners.since(quiet.pk) == listeners.NOT_YET
    with connection.cursor() as cursor:  # a write transaction moves the id counter on
        cursor.execute("SELECT pg_current_xact_id()")
    assert listeners.listen([quiet.pk])[quiet.pk] > first


def test_a_subscription_registers_its_class(quiet, owner, application):
    token = token_for(application, owner)

    async def scenario():
        stream = await subscribe(token, "quiet")
        assert stream.status == 200
        record = await sync_to_async(services.record_create)(
            caller=Caller.for_user(owner), klass=quiet, data={"name": "a", "age": 3}
        )
        [event] = await stream.events(1)
        await stream.close()
        return record, event

    record, event = run(scenario())
    assert (event["event"], event["data"]["record"]["_id"]) == ("create", record.id)
    assert Listener.objects.filter(pk=quiet.pk).exists()


def test_resuming_from_before_a_gap_in_the_journal_gets_reset(quiet, owner, application):
    """Resuming within an unbroken registration sends what was missed; from before a
    lapse, during which changes were not journaled, the client is told to reload."""
    listeners.listen([quiet.pk])
    token = token_for(application, owner)
    caller = Caller.for_user(owner)
    start = journal.now_position()
    made = services.record_create(caller=caller, klass=quiet, data={"name": "kept"})

    async def resume():
        stream = await subscribe(token, "quiet", headers={"Last-Event-ID": str(start)})
        [event] = await stream.events(1)
        await stream.close()
        return event

    event = run(resume())
    assert (event["event"], event["data"]["record"]["_id"]) == ("create", made.id)

    Listener.objects.filter(pk=quiet.pk).update(until=int(time.time()) - 1)
    services.record_create(caller=caller, klass=quiet, data={"name": "not journaled"})
    event = run(resume())
    assert event["event"] == "reset"


def test_open_subscriptions_renew_their_classes(quiet, owner, application, monkeypatch):
    monkeypatch.setattr(listeners, "RENEW_SECONDS", 0.2)
    token = token_for(application, owner)
    soon = int(time.time()) + 30

    async def scenario():
        stream = await subscribe(token, "quiet")
        await sync_to_async(Listener.objects.filter(pk=quiet.pk).update)(until=soon)
        await stream.quiet_for(1.5)  # the hub reads and renews about once a second
        await stream.close()

    run(scenario())
    assert Listener.objects.get(pk=quiet.pk).until > soon


def test_the_reader_of_a_listened_class_sees_what_others_do_not(quiet, thing, owner):
    reader = Reader()
    write_all_three(quiet, owner)
    kept = write_all_three(thing, owner)  # `thing` is listened to (tests/events/conftest)
    assert [(r.op, r.event.record_id) for r in reader.read()] == [
        ("create", kept),
        ("update", kept),
        ("delete", kept),
    ]


def test_classes_that_exist_at_the_upgrade_stay_journaled_for_a_retention(quiet, owner, settings):
    """Migration 0004: a server not yet upgraded registers nothing, and a client may resume
    from an event journaled before; so every existing class is kept for one retention."""
    import importlib

    from django.apps import apps

    upgrade = importlib.import_module("events.migrations.0004_journal_only_what_is_read")
    settings.EVENTS_RETENTION_SECONDS = 3600
    upgrade.keep_existing_classes_journaled(apps, None)
    row = Listener.objects.get(pk=quiet.pk)
    assert row.since == 0 and abs(row.until - (time.time() + 3600)) < 5
    write_all_three(quiet, owner)
    assert journaled(quiet) == ["create", "update", "delete"]


def test_pruning_removes_lapsed_registrations_only(quiet, thing):
    listeners.listen([quiet.pk])
    Listener.objects.filter(pk=quiet.pk).update(until=int(time.time()) - 1)
    journal.prune(now=int(time.time()))
    assert list(Listener.objects.values_list("pk", flat=True)) == [thing.pk]
    assert listeners.since(quiet.pk) == listeners.NOT_YET
