"""The production server's workers take turns at accepting connections
(ops.uvicorn_worker.SpreadListener) when ACCEPT_SPREAD_US is set: a client's keep-alive
connections opened together are spread over the workers instead of landing in the first
one awake, and a worker that holds no more connections than the others accepts at once."""

import asyncio
import os
import socket
import time

from ops.uvicorn_worker import SpreadListener, Turns
from tests.events.streams import run


class Recorder(asyncio.Protocol):
    def __init__(self, times):
        self.times = times
        self.on_lost = None  # set by the listener, as on the server's own protocol

    def connection_made(self, transport):
        self.times.append(time.monotonic())

    def connection_lost(self, exc):
        self.on_lost()


class FakeWorker:
    def __init__(self):
        self.pid = os.getpid()


def two_workers(mine: int, other: int) -> tuple[Turns, int]:
    """Turns with two slots holding `mine` and `other` connections; answers our slot."""
    turns = Turns()
    turns.workers = [FakeWorker(), FakeWorker()]  # alive as long as the test needs them
    slot, other_slot = (turns.assign(worker) for worker in turns.workers)
    turns.counts[slot], turns.counts[other_slot] = mine, other
    return turns, slot


async def accept_times(turns, slot, rest: float, clients: int) -> list[float]:
    """Open `clients` connections at once to a SpreadListener; answers when each was
    accepted, relative to the first connect."""
    loop = asyncio.get_running_loop()
    server = socket.create_server(("127.0.0.1", 0))
    times: list[float] = []
    listener = SpreadListener(loop, server, lambda: Recorder(times), rest, turns, slot)
    start = time.monotonic()
    opened = [socket.create_connection(server.getsockname()) for _ in range(clients)]
    try:
        deadline = time.monotonic() + 5
        while len(times) < clients and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    finally:
        listener.close()
        for conn in opened:
            conn.close()
        server.close()
    return [t - start for t in times]


def test_a_worker_holding_more_connections_leaves_a_new_one_to_the_others_first():
    turns, slot = two_workers(mine=1, other=0)
    times = run(accept_times(turns, slot, rest=0.3, clients=1))
    assert len(times) == 1
    assert 0.29 <= times[0] < 2  # nobody else took it: taken once the rest was over


def test_the_least_busy_worker_takes_every_waiting_connection_at_once():
    turns, slot = two_workers(mine=0, other=5)
    times = run(accept_times(turns, slot, rest=0.3, clients=5))
    assert len(times) == 5
    assert times[-1] < 0.25  # from 0 to 5 it never held more than the other


def test_connections_are_counted_while_they_are_open():
    turns, slot = two_workers(mine=0, other=10)

    async def scenario():
        loop = asyncio.get_running_loop()
        server = socket.create_server(("127.0.0.1", 0))
        listener = SpreadListener(loop, server, lambda: Recorder([]), 0.3, turns, slot)
        clients = [socket.create_connection(server.getsockname()) for _ in range(3)]
        await asyncio.sleep(0.1)
        held = turns.counts[slot]
        for client in clients:
            client.close()
        await asyncio.sleep(0.1)
        listener.close()
        server.close()
        return held, turns.counts[slot]

    assert run(scenario()) == (3, 0)


def test_a_closed_listener_accepts_nothing_more():
    turns, slot = two_workers(mine=1, other=0)

    async def scenario():
        loop = asyncio.get_running_loop()
        server = socket.create_server(("127.0.0.1", 0))
        times: list[float] = []
        listener = SpreadListener(loop, server, lambda: Recorder(times), 0.05, turns, slot)
        client = socket.create_connection(server.getsockname())
        await asyncio.sleep(0.02)  # left to the other worker, resting
        listener.close()
        await asyncio.sleep(0.2)  # the rest is over: a closed listener must not resume
        client.close()
        server.close()
        return times

    assert run(scenario()) == []


def test_a_slot_whose_worker_is_gone_is_handed_out_again():
    turns = Turns()
    gone, alive, new = FakeWorker(), FakeWorker(), FakeWorker()
    gone.pid = 2**22 + 12345  # above Linux's largest pid: no such process
    assert turns.assign(alive) == 0
    assert turns.assign(gone) == 1
    assert turns.assign(new) == 1  # the process of `gone` has died
    forgotten = FakeWorker()  # the master dropped it (reaped): its slot is free too
    assert turns.assign(forgotten) == 2
    del forgotten
    assert turns.assign(FakeWorker()) == 2


def connections_per_worker(server, count: int) -> list[int]:
    """Open `count` connections together, make one request on each, and answer how many
    each worker process of `server` holds."""
    port = int(server.url.rsplit(":", 1)[1])
    clients = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]
    try:
        for client in clients:
            client.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        for client in clients:
            assert client.recv(4096).startswith(b"HTTP/1.1 200")
        return server.connections_per_worker(client.getsockname()[1] for client in clients)
    finally:
        for client in clients:
            client.close()


def test_with_turns_connections_opened_together_are_spread_over_the_workers(app_servers):
    # A rest of 50 ms, not the 1 ms one would use: on a busy test machine a worker's loop
    # may not run within 1 ms, and the worker that waited then takes the connection.
    (server,) = app_servers.start(workers=3, env={"ACCEPT_SPREAD_US": "50000"})
    # every worker answers before we measure (they boot side by side)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if connections_per_worker(server, 12)[0] > 0:
            break
        time.sleep(0.2)
    for _ in range(3):
        spread = connections_per_worker(server, 12)
        assert sum(spread) == 12
        # uvloop alone gave 8/0/0, 6/2/0, 0/2/6 for 8 connections; in turns, 3/3/2
        assert spread[0] >= 2 and spread[-1] <= 6, spread
        time.sleep(0.2)
