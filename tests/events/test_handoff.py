"""One worker of a server holds its event streams (ops.handoff): the others pass it the
connections that open one, and when it is gone another takes its place."""

import asyncio
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest

from ops.handoff import Handoff, opens_stream
from tests.conftest import token_for
from tests.events.sse_client import SseClient
from tests.events.streams import run
from tests.servers import app_servers  # noqa: F401


@pytest.mark.parametrize(
    "head",
    [
        b"GET /data/thing/events HTTP/1.1\r\n",
        b"GET /data/thing/events.json HTTP/1.1\r\n",
        b"GET /data/thing/events?types=create&age[gt]=3 HTTP/1.1\r\n",
        b"GET /data/thing/events.json?token=x HTTP/1.1\r\nHost: a\r\n\r\n",
    ],
)
def test_a_subscription_request_line_is_recognised(head):
    assert opens_stream(head)


@pytest.mark.parametrize(
    "head",
    [
        b"GET /data/thing/eventsx HTTP/1.1\r\n",
        b"GET /data/thing/events/1 HTTP/1.1\r\n",
        b"GET /data/thing/5f0c HTTP/1.1\r\n",
        b"POST /data/thing/events HTTP/1.1\r\n",
        b"GET /data/thing/eve",  # the request line not read whole: served in place
        b"GET /data/events HTTP/1.1\r\n",
        b"GET /blobs/events HTTP/1.1\r\n",
    ],
)
def test_other_requests_are_not_handed_over(head):
    assert not opens_stream(head)


def test_a_worker_raises_its_open_files_limit_to_the_hard_limit():
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    code = (
        "import resource; from ops.handoff import raise_open_files_limit; "
        "print(raise_open_files_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[0])"
    )
    started_with = min(256, hard)
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent.parent,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (started_with, hard)),
    ).stdout.split()
    expected = hard if hard != resource.RLIM_INFINITY else 1 << 20
    assert [int(v) for v in out] == [expected, expected]


class Taker(asyncio.Protocol):
    """The holder's protocol in these tests: keeps what it reads and answers it."""

    def __init__(self, seen):
        self.seen = seen

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.seen.append(data)
        self.transport.write(b"taken:" + data)


class Giver(asyncio.Protocol):
    """A worker's protocol: hands every connection over on its first bytes."""

    def __init__(self, handoff, given):
        self.handoff, self.given = handoff, given

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.given.append(self.handoff.give(self.transport, data))
        if self.given[-1]:
            self.transport.close()


def unique_name() -> bytes:
    return b"\0cubebase-test-streams-%d-%d" % (os.getpid(), time.monotonic_ns())


def test_a_connection_is_handed_to_the_holder_and_lives_on_there():
    async def scenario():
        loop = asyncio.get_running_loop()
        name, seen, given = unique_name(), [], []
        holder = Handoff(loop, name, lambda: Taker(seen))
        worker = Handoff(loop, name, lambda: Taker(seen))
        assert holder.holds and not worker.holds
        server = await loop.create_server(lambda: Giver(worker, given), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"GET /data/thing/events HTTP/1.1\r\n\r\n")
            first = await asyncio.wait_for(reader.read(100), 5)
            writer.write(b"more")  # read by the holder now, not by the worker
            second = await asyncio.wait_for(reader.read(100), 5)
        finally:
            writer.close()
            server.close()
            holder.close()
            worker.close()
        return given, seen, first, second

    given, seen, first, second = run(scenario())
    assert given == [True]
    assert first == b"taken:GET /data/thing/events HTTP/1.1\r\n\r\n"
    assert second == b"taken:more"
    assert seen == [b"GET /data/thing/events HTTP/1.1\r\n\r\n", b"more"]


class FakeTransport:
    def __init__(self, sock, *, tls=False, unsent=0):
        self.info = {"socket": sock, "sslcontext": object() if tls else None}
        self.unsent = unsent

    def get_extra_info(self, name):
        return self.info.get(name)

    def get_write_buffer_size(self):
        return self.unsent


@contextmanager
def holder_and_worker():
    """Inside a running loop: two Handoffs on a fresh name (the first holds) and a
    connected socket for a FakeTransport."""
    loop = asyncio.get_running_loop()
    name = unique_name()
    holder = Handoff(loop, name, asyncio.Protocol)
    worker = Handoff(loop, name, asyncio.Protocol)
    a, b = socket.socketpair()
    try:
        yield holder, worker, a
    finally:
        holder.close()
        worker.close()
        a.close()
        b.close()


HEAD = b"GET /data/thing/events HTTP/1.1\r\n"


def test_when_the_holder_is_gone_the_worker_that_notices_holds():
    async def scenario():
        with holder_and_worker() as (holder, worker, sock):
            holder.close()  # its process died: the name is free again
            return worker.give(FakeTransport(sock), HEAD), worker.holds

    assert run(scenario()) == (False, True)  # served where it arrived, and held from now


def client_ports(server) -> list[int]:
    """Local ports of this process's connections to `server`."""
    return [
        c.laddr.port
        for c in psutil.Process().net_connections("tcp")
        if c.raddr and c.raddr.port == server.port and c.status == psutil.CONN_ESTABLISHED
    ]


def holder_of(server, ports) -> int:
    """The pid of the worker holding the connections from `ports`."""
    holders = [pid for pid, count in server.connections_by_worker(ports).items() if count]
    assert len(holders) == 1, holders
    return holders[0]


def metric(server, name: str) -> float:
    """The value of one metric of /metrics (its lines summed over their labels)."""
    response = httpx.get(
        server.url + "/metrics", headers={"Authorization": "Bearer s3cret"}, timeout=10
    )
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in response.text.splitlines()
        if line.startswith(name + " ") or line.startswith(name + "{")
    )


def read_response(conn) -> bytes:
    """One whole response with a Content-Length (its head and body may come apart)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    while len(body) < length:
        body += conn.recv(4096)
    return head + b"\r\n\r\n" + body


def eventually(check, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_a_servers_streams_are_held_by_one_worker_which_can_be_replaced(
    app_servers,  # noqa: F811
    thing,
    application,
    owner,
):
    # Turns make the workers accept the connections in turn, so without the hand-off the
    # streams would be spread over the three of them.
    env = {"ACCEPT_SPREAD_US": "50000", "EVENTS_HANDOFF": "1", "METRICS_TOKEN": "s3cret"}
    [server] = app_servers.start(n=1, workers=3, env=env)
    token = token_for(application, owner)
    streams = [SseClient(server.url + "/data/thing/events", token=token) for _ in range(6)]
    try:
        assert [s.status for s in streams] == [200] * 6
        ports = client_ports(server)
        assert len(ports) == 6
        assert server.connections_per_worker(ports) == [0, 0, 6]
        assert metric(server, "cubebase_event_streams_open") == 6
        # the holder accepted some itself; the others passed theirs on
        assert metric(server, 'cubebase_event_stream_handoffs_total{outcome="handed"}') >= 2
        created = httpx.post(
            server.url + "/data/thing.json", json={"name": "x"}, headers={"CB-Token": token}
        ).json()
        for stream in streams:
            assert stream.wait_for(1)[0]["data"]["record"]["_id"] == created["_id"]
        holder = holder_of(server, ports)

        # a keep-alive connection that asked something else first is handed over too
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
            head = f"Host: 127.0.0.1\r\nCB-Token: {token}\r\n\r\n"
            conn.sendall(f"GET /health/live HTTP/1.1\r\n{head}".encode())
            assert read_response(conn).startswith(b"HTTP/1.1 200")
            conn.sendall(f"GET /data/thing/events HTTP/1.1\r\n{head}".encode())
            assert b"text/event-stream" in conn.recv(4096)
            assert holder_of(server, [conn.getsockname()[1]]) == holder

        os.kill(holder, signal.SIGKILL)
        for stream in streams:
            assert stream.closed.wait(10)  # gone with the worker that held them
        # and no longer counted as open, once gunicorn has seen the worker go
        assert eventually(lambda: metric(server, "cubebase_event_streams_open") == 0)
    finally:
        for stream in streams:
            stream.close()

    again = [SseClient(server.url + "/data/thing/events", token=token) for _ in range(6)]
    try:
        assert [s.status for s in again] == [200] * 6
        ports = client_ports(server)
        assert server.connections_per_worker(ports)[-1] == 6  # one holder again
        assert metric(server, "cubebase_event_streams_open") == 6
        created = httpx.post(
            server.url + "/data/thing.json", json={"name": "y"}, headers={"CB-Token": token}
        ).json()
        for stream in again:
            assert stream.wait_for(1)[0]["data"]["record"]["_id"] == created["_id"]
    finally:
        for stream in again:
            stream.close()


def test_tls_connections_and_unfinished_answers_stay_where_they_are():
    async def scenario():
        with holder_and_worker() as (_holder, worker, sock):
            return [
                worker.give(FakeTransport(sock, tls=True), HEAD),
                worker.give(FakeTransport(sock, unsent=10), HEAD),
                worker.give(FakeTransport(sock), HEAD + b"x" * 70_000),  # over one message
                worker.give(FakeTransport(sock), HEAD),  # and one that goes
            ]

    assert run(scenario()) == [False, False, False, True]


def test_without_unix_packet_sockets_every_worker_keeps_its_streams(monkeypatch):
    def no_such_socket(*args, **kwargs):
        raise OSError("Protocol not supported")  # as on a platform without SEQPACKET

    async def scenario():
        loop = asyncio.get_running_loop()
        monkeypatch.setattr("ops.handoff.socket.socket", no_such_socket)
        handoff = Handoff(loop, unique_name(), asyncio.Protocol)
        monkeypatch.undo()
        a, b = socket.socketpair()
        try:
            return handoff.holds, handoff.give(FakeTransport(a), HEAD)
        finally:
            a.close()
            b.close()

    assert run(scenario()) == (False, False)
