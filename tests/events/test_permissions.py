"""What each subscriber receives: the permission matrix of API.md §4 and the conditions of
§5 hold for events as for lists, and nothing about an unreadable record leaks.

Each test writes through the services, reads the committed journal into one batch as a
hub does, and renders it for subscriptions of the permission cast."""

import json

import pytest

from accounts.caller import Caller
from accounts.models import ApiSession
from events import hub
from events.subscriptions import ALL_TYPES, Subscription, audiences, fan_out, render
from records import services
from records.query import parse


def subscription(caller, klass, conditions=None, types=ALL_TYPES):
    query = parse(klass, conditions or {}, criteria_only=True) if conditions else None
    key = json.dumps([klass.pk, conditions], sort_keys=True)
    return Subscription(caller=caller, klass=klass, query=query, conditions_key=key, types=types)


def received(reader, subs) -> dict:
    """{sub: [(event, record)]} for everything committed since the reader's position."""
    conditions = {s.conditions_key: (s.class_id, s.query) for s in subs if s.query}
    batch, _ = hub.read_batch(reader.position, conditions)
    reader.position = batch.position
    live = fan_out(batch, audiences(subs))  # the hub's path, through the audience index
    out = {}
    for sub in subs:
        text = render(sub, batch)  # the catch-up path: every row asked of `can`
        assert live.get(sub, "") == text
        events = []
        for block in text.split("\n\n")[:-1]:
            lines = dict(line.split(": ", 1) for line in block.split("\n"))
            events.append((lines["event"], json.loads(lines["data"])["record"]))
        out[sub] = events
    return out


def session_caller(application, user=None):
    session, _ = ApiSession.open(application=application, user=user)
    return Caller.for_session(ApiSession.objects.select_related("user").get(pk=session.pk))


@pytest.fixture
def cast(application, owner, member, listed, stranger, db_committed):
    return {
        "owner": session_caller(application, owner),
        "member": session_caller(application, member),
        "listed": session_caller(application, listed),
        "stranger": session_caller(application, stranger),
        "app": session_caller(application),
    }


def who_sees(reader, thing, cast) -> dict:
    subs = {name: subscription(caller, thing) for name, caller in cast.items()}
    got = received(reader, list(subs.values()))
    return {name: [event for event, _ in got[sub]] for name, sub in subs.items()}


RECORD_LEVELS = [
    ({"read": {"access": "open"}}, {"owner", "member", "listed", "stranger", "app"}),
    ({"read": {"access": "owner"}}, {"owner"}),
    ({"read": {"access": "open_for_groups", "groups": "officers"}}, {"member"}),
    ({"read": {"access": "open_for_users_ids", "ids": "LISTED"}}, {"listed"}),
]


@pytest.mark.parametrize(("permissions", "readers"), RECORD_LEVELS)
def test_record_permissions_decide_who_gets_the_create(
    reader, thing, cast, listed, permissions, readers
):
    permissions = json.loads(json.dumps(permissions).replace("LISTED", str(listed.pk)))
    services.record_create(
        caller=cast["owner"], klass=thing, data={"name": "x", "permissions": permissions}
    )
    seen = who_sees(reader, thing, cast)
    assert {name for name, events in seen.items() if events} == readers
    assert all(events in ([], ["create"]) for events in seen.values())


CLASS_LEVELS = [
    ({"access": "owner"}, {"owner"}),
    ({"access": "not_allowed"}, set()),
    ({"access": "open_for_groups", "groups": ["officers"]}, {"member"}),
    ({"access": "open"}, {"owner", "member", "listed", "stranger", "app"}),
]


@pytest.mark.parametrize(("level", "readers"), CLASS_LEVELS)
def test_class_read_permission_overrides_the_record(reader, thing, cast, level, readers):
    services.record_create(caller=cast["owner"], klass=thing, data={"name": "x"})
    thing.permissions = {**thing.permissions, "read": {**level, "use_class_permissions": True}}
    thing.save()  # changed after the write: the class as it is now decides
    seen = who_sees(reader, thing, cast)
    assert {name for name, events in seen.items() if events} == readers


def test_losing_read_permission_gives_leave_with_the_id_only(reader, thing, cast):
    record = services.record_create(caller=cast["owner"], klass=thing, data={"name": "x"})
    reader.read()
    services.record_update(
        caller=cast["owner"],
        klass=thing,
        record_id=record.id,
        changes={"name": "secret", "permissions": {"read": {"access": "owner"}}},
    )
    services.record_update(
        caller=cast["owner"], klass=thing, record_id=record.id, changes={"name": "more"}
    )
    owner, stranger = subscription(cast["owner"], thing), subscription(cast["stranger"], thing)
    got = received(reader, [owner, stranger])
    assert [e for e, _ in got[owner]] == ["update", "update"]
    assert got[stranger] == [("leave", {"_id": record.id})]  # and nothing after


def test_gaining_read_permission_gives_update(reader, thing, cast):
    record = services.record_create(
        caller=cast["owner"],
        klass=thing,
        data={"name": "x", "permissions": {"read": {"access": "owner"}}},
    )
    services.record_update(
        caller=cast["owner"],
        klass=thing,
        record_id=record.id,
        changes={"permissions": {"read": {"access": "open"}}},
    )
    stranger = subscription(cast["stranger"], thing)
    assert [e for e, _ in received(reader, [stranger])[stranger]] == ["update"]


def test_an_unreadable_record_leaks_nothing(reader, thing, cast):
    record = services.record_create(
        caller=cast["owner"],
        klass=thing,
        data={"name": "hidden", "permissions": {"read": {"access": "owner"}}},
    )
    services.record_update(
        caller=cast["owner"], klass=thing, record_id=record.id, changes={"name": "still"}
    )
    services.record_delete(caller=cast["owner"], klass=thing, record_id=record.id)
    stranger = subscription(cast["stranger"], thing)
    batch, _ = hub.read_batch(reader.position, {})
    assert len(batch.rows) == 3
    text = render(stranger, batch)
    assert text == ""
    assert fan_out(batch, audiences([stranger])) == {}
    assert record.id not in text


def test_conditions_decide_enter_and_leave(reader, thing, cast):
    old = subscription(cast["stranger"], thing, {"age": {"gt": "30"}})
    record = services.record_create(caller=cast["owner"], klass=thing, data={"age": 20})
    for age in (40, 50, 10, 5):
        services.record_update(
            caller=cast["owner"], klass=thing, record_id=record.id, changes={"age": age}
        )
    services.record_delete(caller=cast["owner"], klass=thing, record_id=record.id)
    got = received(reader, [old])[old]
    assert [e for e, _ in got] == ["update", "update", "leave"]
    assert [r.get("age") for _, r in got] == [40, 50, None]


def test_types_select_the_events(reader, thing, cast):
    creates = subscription(cast["owner"], thing, types=frozenset({"create"}))
    deletes = subscription(cast["owner"], thing, types=frozenset({"delete"}))
    record = services.record_create(caller=cast["owner"], klass=thing, data={"age": 1})
    services.record_update(
        caller=cast["owner"], klass=thing, record_id=record.id, changes={"age": 2}
    )
    services.record_delete(caller=cast["owner"], klass=thing, record_id=record.id)
    got = received(reader, [creates, deletes])
    assert [e for e, _ in got[creates]] == ["create"]
    assert got[deletes] == [("delete", {"_id": record.id})]


def test_one_users_subscriptions_are_decided_apart_where_they_differ(reader, thing, cast):
    """Alike subscriptions share one decision per row; types, conditions and the user
    still tell them apart."""
    tab_one, tab_two = subscription(cast["owner"], thing), subscription(cast["owner"], thing)
    updates = subscription(cast["owner"], thing, types=frozenset({"update"}))
    older = subscription(cast["owner"], thing, {"age": {"gt": "30"}})
    stranger = subscription(cast["stranger"], thing)
    record = services.record_create(
        caller=cast["owner"],
        klass=thing,
        data={"age": 40, "permissions": {"read": {"access": "owner"}}},
    )
    services.record_update(
        caller=cast["owner"], klass=thing, record_id=record.id, changes={"age": 2}
    )
    got = received(reader, [tab_one, tab_two, updates, older, stranger])
    assert [e for e, _ in got[tab_one]] == [e for e, _ in got[tab_two]] == ["create", "update"]
    assert [e for e, _ in got[updates]] == ["update"]
    assert [e for e, _ in got[older]] == ["create", "leave"]
    assert got[stranger] == []


def test_other_classes_and_applications_are_not_seen(reader, thing, cast, other_application):
    from tests.records.conftest import make_class

    other = make_class(thing.application, name="other", fields=[("name", "string")])
    foreign = make_class(other_application, name="thing", fields=[("name", "string")])
    services.record_create(caller=cast["owner"], klass=other, data={"name": "x"})
    services.record_create(caller=Caller.admin(other_application), klass=foreign, data={})
    sub = subscription(cast["owner"], thing)
    assert received(reader, [sub])[sub] == []


def test_a_change_of_the_subscribers_tags_applies(reader, thing, cast, member):
    services.record_create(
        caller=cast["owner"],
        klass=thing,
        data={"permissions": {"read": {"access": "open_for_groups", "groups": "officers"}}},
    )
    sub = subscription(cast["member"], thing)
    member.tags = []
    member.save()
    sub.set_groups(hub.session_states({sub.session_id})[sub.session_id])
    assert received(reader, [sub])[sub] == []


def test_an_expired_session_is_no_longer_alive(cast, settings):
    from datetime import timedelta

    from django.utils import timezone

    owner, member = cast["owner"], cast["member"]
    ApiSession.objects.filter(pk=member.session.pk).update(
        updated_at=timezone.now() - timedelta(seconds=settings.SESSION_TTL_SECONDS + 5)
    )
    alive = hub.session_states({owner.session.pk, member.session.pk})
    assert set(alive) == {owner.session.pk}
