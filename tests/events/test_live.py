"""Subscriptions against real server processes (the server `make run` starts), two of
them for the cross-node cases."""

import time

import httpx
import pytest

from tests.conftest import token_for
from tests.events.sse_client import SseClient
from tests.servers import app_servers  # noqa: F401


@pytest.fixture
def servers(app_servers, thing):  # noqa: F811
    return app_servers.start(n=2, env={"EVENTS_PING_SECONDS": "1"})


def api(server, token, method, path, json=None):
    response = httpx.request(
        method, server.url + path, json=json, headers={"CB-Token": token}, timeout=10
    )
    return response.status_code, (response.json() if response.content else None)


def test_a_write_on_one_server_reaches_a_subscriber_on_another(servers, application, owner):
    one, two = servers
    token = token_for(application, owner)
    stream = SseClient(two.url + "/data/thing/events.json", token=token, params={"age[gt]": 10})
    try:
        assert stream.status == 200
        status, small = api(one, token, "POST", "/data/thing.json", {"age": 5})
        assert status == 201
        _, big = api(one, token, "POST", "/data/thing.json", {"age": 20})
        api(one, token, "PUT", f"/data/thing/{big['_id']}.json", {"age": 3})
        api(one, token, "PUT", f"/data/thing/{small['_id']}.json", {"age": 1})
        events = stream.wait_for(2)
    finally:
        stream.close()
    assert [(e["event"], e["data"]["record"]["_id"]) for e in events] == [
        ("create", big["_id"]),
        ("leave", big["_id"]),
    ]
    assert events[0]["data"]["record"]["age"] == 20


def test_resuming_on_the_other_server_sends_exactly_what_was_missed(servers, application, owner):
    one, two = servers
    token = token_for(application, owner)
    first = SseClient(one.url + "/data/thing/events", token=token)
    api(one, token, "POST", "/data/thing.json", {"name": "seen"})
    [seen] = first.wait_for(1)
    first.close()
    missed = [api(one, token, "POST", "/data/thing.json", {"name": f"m{i}"})[1] for i in range(3)]
    again = SseClient(
        two.url + "/data/thing/events", token=token, headers={"Last-Event-ID": seen["id"]}
    )
    try:
        again.wait_for(3)
        time.sleep(0.3)  # and nothing more
    finally:
        again.close()
    assert [e["data"]["record"]["_id"] for e in again.events] == [m["_id"] for m in missed]


def test_an_unknown_or_pruned_position_gets_reset(servers, application, owner):
    one, _ = servers
    token = token_for(application, owner)
    stream = SseClient(one.url + "/data/thing/events", token=token, params={"last_event_id": "x"})
    try:
        [event] = stream.wait_for(1)
    finally:
        stream.close()
    assert event["event"] == "reset"


def test_ending_the_session_ends_the_stream_and_pings_flow(servers, application, owner):
    one, _ = servers
    token = token_for(application, owner)
    stream = SseClient(one.url + "/data/thing/events", token=token)
    time.sleep(1.5)
    assert ": ping" in stream.comments
    assert api(one, token, "DELETE", "/session.json")[0] == 200
    assert stream.closed.wait(5)


def test_errors_are_json_before_the_stream(servers, application, owner):
    one, _ = servers
    for token, status in [("nope", 401), (token_for(application, owner), 422)]:
        response = httpx.get(
            one.url + "/data/thing/events", params={"token": token, "zz": "1"}, timeout=10
        )
        assert response.status_code == status
        assert "errors" in response.json()


def worker_threads(server) -> int:
    """Threads of the server's worker processes (gunicorn's children)."""
    import psutil

    return sum(child.num_threads() for child in psutil.Process(server.pid).children())


def test_open_subscriptions_hold_no_thread_each(app_servers, thing, application, owner):  # noqa: F811
    [server] = app_servers.start(n=1, env={"EVENTS_PING_SECONDS": "1"})
    token = token_for(application, owner)
    first = SseClient(server.url + "/data/thing/events", token=token)
    before = worker_threads(server)  # the hub, its thread and the pooled threads are there
    streams = [SseClient(server.url + "/data/thing/events", token=token) for _ in range(30)]
    try:
        assert [s.status for s in streams] == [200] * 30
        assert worker_threads(server) - before < 5
        status, record = api(server, token, "POST", "/data/thing.json", {"name": "to all"})
        assert status == 201
        for stream in (first, *streams):
            assert stream.wait_for(1)[0]["data"]["record"]["_id"] == record["_id"]
    finally:
        for stream in (first, *streams):
            stream.close()
