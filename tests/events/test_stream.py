"""The subscription endpoint end to end (in-process ASGI view), and its errors."""

import asyncio
import time

from asgiref.sync import sync_to_async

from accounts.caller import Caller
from records import services
from tests.conftest import token_for
from tests.events.streams import run, subscribe


def test_a_created_record_arrives(thing, owner, application):
    token = token_for(application, owner)

    async def scenario():
        stream = await subscribe(token)
        assert stream.status == 200
        assert stream.response["Content-Type"] == "text/event-stream"
        record = await sync_to_async(services.record_create)(
            caller=Caller.for_user(owner), klass=thing, data={"name": "a", "age": 3}
        )
        [event] = await stream.events(1)
        await stream.close()
        return record, event

    record, event = run(scenario())
    assert event["event"] == "create"
    assert event["data"]["class_name"] == "thing"
    assert event["data"]["record"]["_id"] == record.id
    assert event["data"]["record"]["age"] == 3
    assert event["data"]["record"]["permissions"]["read"] == {"access": "open"}


def test_no_session_is_401_with_the_sdk_text(thing):
    async def scenario():
        return await subscribe(None), await subscribe("nope")

    for stream in run(scenario()):
        assert stream.status == 401
        assert b"Required session does not exist" in stream.response.content


def test_unknown_class_is_404_and_bad_conditions_are_rejected(thing, owner, application):
    token = token_for(application, owner)

    async def scenario():
        return (
            await subscribe(token, "nothing"),
            await subscribe(token, params={"nofield": "1"}),
            await subscribe(token, params={"age[zz]": "1"}),
            await subscribe(token, params={"types": "create,bogus"}),
        )

    statuses = [s.status for s in run(scenario())]
    assert statuses == [404, 422, 400, 400]


def test_deleting_the_session_ends_the_stream(thing, owner, application):
    from accounts.models import ApiSession

    token = token_for(application, owner)

    async def scenario():
        stream = await subscribe(token)
        await sync_to_async(ApiSession.objects.filter(user=owner).delete)()
        return await stream.ended(timeout=5)

    assert run(scenario())


def test_pings_carry_a_position(thing, owner, application, settings):
    settings.EVENTS_PING_SECONDS = 0.2
    token = token_for(application, owner)

    async def scenario():
        stream = await subscribe(token)
        await stream.quiet_for(0.5)
        await stream.close()
        return stream.text

    text = run(scenario())
    assert ": ping\nid: " in text


def test_resuming_from_before_the_pruned_part_gets_reset(thing, owner, application):
    from events.models import JournalState

    JournalState.objects.create(pk=1, pruned_xid=1000)
    token = token_for(application, owner)

    async def scenario():
        old = await subscribe(token, headers={"Last-Event-ID": "900-950-3"})
        [event] = await old.events(1)
        await old.close()
        return event

    event = run(scenario())
    assert event["event"] == "reset"
    assert event["id"].count("-") == 2  # a fresh position to go on from


def test_a_wsgi_server_answers_501_instead_of_hanging(thing, owner, application):
    from concurrent.futures import ThreadPoolExecutor

    from tests.conftest import Api

    api = Api(token_for(application, owner))
    # A thread of its own, as a WSGI server's: the browser tests leave an event loop
    # running in this one, where Django cannot call an async view synchronously.
    with ThreadPoolExecutor(1) as pool:
        status, body = pool.submit(api.get, "/data/thing/events").result(timeout=30)
    assert status == 501
    assert "ASGI" in body["errors"]["base"][0]


def test_a_lost_listen_connection_is_opened_again(thing, owner, application):
    from django.db import connection

    token = token_for(application, owner)
    listening = (
        "SELECT pid FROM pg_stat_activity WHERE query = 'LISTEN cubebase_events'"
        " AND datname = current_database()"
    )

    def listeners():
        with connection.cursor() as cursor:
            cursor.execute(listening)
            return [pid for (pid,) in cursor.fetchall()]

    async def scenario():
        stream = await subscribe(token)
        before = await sync_to_async(listeners)()
        for _ in range(50):  # the hub opens its LISTEN connection just after the answer
            if before:
                break
            await asyncio.sleep(0.1)
            before = await sync_to_async(listeners)()
        await sync_to_async(_terminate)(before)
        await asyncio.sleep(2.5)  # the hub notices, waits a second, listens again
        after = await sync_to_async(listeners)()
        record = await sync_to_async(services.record_create)(
            caller=Caller.for_user(owner), klass=thing, data={"name": "after"}
        )
        [event] = await stream.events(1)
        await stream.close()
        return before, after, record, event

    before, after, record, event = run(scenario())
    assert len(before) == 1 and len(after) == 1 and after != before
    assert event["data"]["record"]["_id"] == record.id


def _terminate(pids):
    from django.db import connection

    with connection.cursor() as cursor:
        for pid in pids:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_conditions_of_a_subscriber_who_comes_later_are_applied(thing, owner, application):
    """The hub keeps its subscribers' conditions between reads: one who joins an open hub
    must have its own evaluated, not be handed every row."""
    token = token_for(application, owner)
    create = sync_to_async(services.record_create)
    caller = Caller.for_user(owner)

    async def scenario():
        everything = await subscribe(token)
        await create(caller=caller, klass=thing, data={"name": "first", "age": 1})
        await everything.events(1)  # the hub has read with the first subscriber alone
        filtered = await subscribe(token, params={"age[gt]": "10"})
        for name, age in (("young", 5), ("old", 50)):
            await create(caller=caller, klass=thing, data={"name": name, "age": age})
        await everything.events(3)
        got = await filtered.quiet_for(1.0)
        await everything.close()
        await filtered.close()
        return got

    got = run(scenario())
    assert [e["data"]["record"]["name"] for e in got] == ["old"]


def test_reads_are_spaced_but_a_write_after_a_quiet_spell_is_read_at_once(
    thing, owner, application, settings
):
    """Journal reads are EVENTS_COALESCE_MS apart; a write that comes when the last read
    is older than that is read as soon as its notification arrives."""
    settings.EVENTS_COALESCE_MS = 600
    token = token_for(application, owner)
    caller = Caller.for_user(owner)
    create = sync_to_async(services.record_create)

    async def scenario():
        from events.hub import get_hub

        stream = await subscribe(token)
        hub = get_hub()
        # The hub also reads once a second when nothing wakes it: write 0.65-0.95 s
        # after a read, when the last read is older than the 600 ms.
        while not 0.65 <= time.monotonic() - hub.last_read < 0.95:
            await asyncio.sleep(0.005)
        written = time.monotonic()
        await create(caller=caller, klass=thing, data={"name": "a"})
        await stream.events(1)
        first = time.monotonic() - written
        read = hub.last_read
        await create(caller=caller, klass=thing, data={"name": "b"})
        await stream.events(2)
        second = time.monotonic() - read
        await stream.close()
        return first, second

    first, second = run(scenario())
    assert first < 0.3  # not made to wait 600 ms behind a read long past
    assert second >= 0.55  # a write right after a read waits for the next one
