"""The gunicorn worker class of the production server: uvicorn's event loop in each
worker process, with its fast parts (uvloop, httptools) named rather than left to
'auto' so a missing one fails at start instead of silently serving slower.

Its HTTP protocol adds one thing to uvicorn's: a deadline for the request head. uvicorn
times out idle keep-alive connections, but a client that connects and sends nothing, or
sends its headers a byte at a time, would hold its connection for ever. Each request's
head (request line and headers) must now arrive within HEADER_TIMEOUT_SECONDS of the
connection or of its first byte; otherwise the connection is closed. (The body is
config/asgi.py's business: it is read without holding a thread, with its own timeout.)

Its workers can also take turns at accepting connections (`SpreadListener`,
`ACCEPT_SPREAD_US`), so that a client's few keep-alive connections do not all land in one
worker. And the protocol passes a connection that opens an event stream to the worker
holding the server's streams (ops/handoff.py, `EVENTS_HANDOFF`): `Protocol.handoff` is
that worker process's `Handoff`, set when its server starts.

Each worker, with all its threads, is pinned to one CPU (`CpuPins`, WORKER_CPU_PINNING),
and the protocol writes a response's head and body in one write (`HeadHeld`).
"""

import asyncio
import errno
import gc
import logging
import mmap
import os
import socket
import sys
import weakref
from collections import Counter
from functools import partial

from gunicorn.arbiter import Arbiter
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker

from config.env import env_int
from ops.handoff import Handoff, opens_stream, raise_open_files_limit, socket_name
from ops.metrics import STREAM_HANDOFFS
from ops.server import usable_cpus

logger = logging.getLogger("cubebase.server")

HEADER_TIMEOUT_SECONDS = env_int("HEADER_TIMEOUT_SECONDS", 10)
# How long a worker that holds more connections than another leaves a new one to the
# others before it takes it itself; 0 (the default): no turns, uvloop accepts. See
# SpreadListener for when to turn it on.
ACCEPT_SPREAD_US = env_int("ACCEPT_SPREAD_US", 0)
ACCEPT_RETRY_SECONDS = 1.0  # after running out of file descriptors or memory
# 1 (the default): a server's event streams are all held by one of its workers
# (ops/handoff.py); 0: each worker keeps the streams it accepts.
EVENTS_HANDOFF = env_int("EVENTS_HANDOFF", 1)
# 1 (the default): each worker process, with all its threads, runs on one CPU of those the
# server may use, the CPUs dealt out evenly among the workers; 0: the kernel places and
# moves them. See CpuPins.
WORKER_CPU_PINNING = env_int("WORKER_CPU_PINNING", 1)


class Protocol(HttpToolsProtocol):
    head_timer = None
    on_lost = None  # called once the connection is gone (SpreadListener's count)
    handoff: Handoff | None = None  # the worker's, when one worker holds the streams
    between_requests = True  # the parser has read no byte of a next request yet

    def connection_made(self, transport):
        super().connection_made(transport)
        self._start_head_timer()

    def data_received(self, data):
        handoff = self.handoff
        if handoff is not None and not handoff.holds and opens_stream(data) and self._idle():
            if handoff.give(self.transport, data):  # the holder has it now
                STREAM_HANDOFFS.labels("handed").inc()
                self._stop_head_timer()
                self.transport.close()
                return
            STREAM_HANDOFFS.labels("kept").inc()
        super().data_received(data)

    def _idle(self) -> bool:
        """Between two requests, with nothing of the last one left to answer."""
        return (
            self.between_requests
            and not self.pipeline
            and (self.cycle is None or self.cycle.response_complete)
        )

    def on_message_begin(self):
        self.between_requests = False
        super().on_message_begin()
        self._start_head_timer()  # a keep-alive connection's next request

    def on_message_complete(self):
        super().on_message_complete()
        self.between_requests = True

    def on_headers_complete(self):
        self._stop_head_timer()
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.transport is self.transport:  # the new request's
            cycle.transport = HeadHeld(self.transport, self.loop)

    def connection_lost(self, exc):
        self._stop_head_timer()
        super().connection_lost(exc)
        if self.on_lost is not None:
            self.on_lost()

    def _start_head_timer(self):
        if self.head_timer is None:
            self.head_timer = self.loop.call_later(HEADER_TIMEOUT_SECONDS, self._head_too_slow)

    def _stop_head_timer(self):
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_too_slow(self):
        self.head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


class HeadHeld:
    """A request's transport as its response sees it: the response head is held back
    until the body's first bytes, and both go out in one write.

    uvicorn writes a response's head (status line and headers) as soon as the application
    starts the response, and the body when it comes, which for a JSON answer is at once: two
    writes, two system calls and two TCP segments for a response of a few hundred bytes
    (with TCP_NODELAY, which uvicorn sets, each write is a segment). The head's write was
    ~9 % of a worker's busy time under a stream of creates. A head whose body does not
    follow in the same turn of the event loop (an event stream, a slow download) is
    written on the next turn, on its own."""

    __slots__ = ("transport", "head", "_hold")
    JOIN_AT_MOST = 64 * 1024  # a larger first chunk is not copied to join the head to it

    def __init__(self, transport, loop):
        self.transport = transport
        self.head = None
        self._hold = loop.call_soon

    def write(self, data: bytes) -> None:
        head = self.head
        if head is not None:
            self.head = None
            if len(data) <= self.JOIN_AT_MOST:
                self.transport.write(head + data)
                return
            self.transport.write(head)
        elif self._hold is not None:  # the response's first write: its head
            self.head = data
            self._hold(self.flush)
            self._hold = None
            return
        self.transport.write(data)

    def flush(self) -> None:
        head = self.head
        if head is not None:
            self.head = None
            if not self.transport.is_closing():
                self.transport.write(head)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()


class Turns:
    """How many connections each worker holds, in memory the master shares with the
    workers it forks: a slot per worker (an 8-byte count each), and one more that says how
    many slots were ever handed out. A worker writes only its own slot; the master hands a
    slot to each worker it is about to fork (`assign`), reusing the slot of a worker that
    is gone."""

    SLOTS = 64
    GONE = 1 << 62  # the count of a slot nobody holds: never the least

    def __init__(self):
        self.memory = mmap.mmap(-1, 8 * (self.SLOTS + 1))  # anonymous and shared
        self.counts = memoryview(self.memory).cast("q")
        for slot in range(self.SLOTS):
            self.counts[slot] = self.GONE
        self.counts[self.SLOTS] = 0  # slots handed out so far
        self.holders: dict[int, weakref.ref] = {}  # the master's own record

    def assign(self, worker) -> int | None:
        """In the master, before the fork: a free slot for `worker` (None when all are
        taken: that worker then accepts without turns)."""
        for slot in range(self.SLOTS):
            if slot not in self.holders or not _living(self.holders[slot]):
                self.holders[slot] = weakref.ref(worker)
                self.counts[slot] = 0
                self.counts[self.SLOTS] = max(self.counts[self.SLOTS], slot + 1)
                return slot
        return None

    def least_other(self, slot: int) -> int:
        counts = self.counts
        return min((counts[i] for i in range(counts[self.SLOTS]) if i != slot), default=self.GONE)


class CpuPins:
    """In the master: the CPU each worker it forks is pinned to (`assign`, before the fork),
    the CPU the fewest living workers hold first, so that a worker that replaces a dead one
    takes its CPU.

    A worker is one Python process: its event loop and its pooled threads take turns at
    one interpreter lock, so together they never use much more than one CPU. Left to the
    kernel, they were spread over the CPUs, and each hand-over of the lock between a
    thread on one CPU and a thread on another went through a cross-CPU wake-up. On one
    CPU the hand-overs are plain switches: at 8 connections the server's CPU per request
    fell by 10-15 % (a get 0.361 -> 0.309 ms, a list 0.667 -> 0.580, an update 0.657 ->
    0.583) and its throughput rose by as much or more, at one connection nothing changed
    (docs/performance.md, "One CPU per worker"). PostgreSQL and everything else on the
    machine stay where the kernel puts them.

    Only a server with no more workers than CPUs is pinned (the default is one worker per
    CPU, ops.server.worker_count): two workers pinned to one CPU take turns at it, and
    with three workers on two CPUs a get at 8 connections had a p95 of 13.5 ms where two
    pinned workers had 3 and three free ones 4. The dealing starts at the CPU `start`
    names (the master's pid, modulo the count), so that two servers on one machine, each
    with fewer workers than CPUs, do not both start at the first CPU."""

    def __init__(self, cpus, start: int = 0):
        ordered = sorted(cpus)
        first = start % len(ordered)
        self.cpus = ordered[first:] + ordered[:first]  # ties go to the earliest here
        self.held: list[tuple[weakref.ref, int]] = []  # (worker, its CPU)

    def assign(self, worker) -> int:
        self.held = [(ref, cpu) for ref, cpu in self.held if _living(ref)]
        taken = Counter(cpu for _, cpu in self.held)
        cpu = min(self.cpus, key=lambda candidate: taken[candidate])
        self.held.append((weakref.ref(worker), cpu))
        return cpu


def pin_to(cpu: int) -> bool:
    """This thread (and the threads it starts) onto `cpu`. A CPU the process may no longer
    use (its cpuset changed after the master read it) leaves the worker where it is, with
    a warning, rather than failing its start, which gunicorn would retry for ever."""
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError as exc:
        logger.warning("worker %s stays unpinned: CPU %s: %s", os.getpid(), cpu, exc)
        return False
    return True


def _living(worker_ref: weakref.ref) -> bool:
    """Whether the master still holds that worker and its process is alive."""
    holder = worker_ref()
    return holder is not None and _alive(holder.pid)


def _alive(pid) -> bool:
    if not isinstance(pid, int):
        return True  # "[booting]": gunicorn has not forked it yet
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


class SpreadListener:
    """Accepts the connections of one listening socket (shared by all workers) so that
    they spread over the workers: a worker accepts one connection at a time, and leaves a
    waiting connection for `rest` seconds to the others when it holds more connections
    than one of them (`Turns`); after that wait it accepts it itself.

    Every worker's event loop watches the same socket and the kernel wakes them all when
    a connection arrives; uvloop (libuv) then accepts every connection waiting, so the
    first worker awake took whole bursts: the eight keep-alive connections of a client
    opened together (a load balancer's pool, a benchmark) landed 8/0/0, 6/2/0 or 0/2/6 on
    three workers, and in the 8/0/0 case one worker's share of the CPU capped them all
    (GET at 8 connections ~2,100 req/s instead of ~3,700). In turns they land 3/3/2.

    It is off unless ACCEPT_SPREAD_US is set: accepting in Python (a wake-up of every
    worker's loop, a task per connection) costs clients that open a connection per
    request 7-13 % of their throughput, while on two cores a worker holding six of eight
    keep-alive connections still gets nearly all the CPU it can use (docs/performance.md,
    "Workers that take turns"). Turn it on where a few long-lived connections carry the
    load (a proxy's keep-alive pool) over many workers."""

    def __init__(self, loop, sock, protocol_factory, rest: float, turns: Turns, slot: int):
        self.loop = loop
        self.sock = sock
        self.protocol_factory = protocol_factory
        self.rest = rest
        self.turns = turns
        self.slot = slot
        self.closed = False
        self.turn_ends = 0.0  # until then, the next accept does not look at the others
        sock.setblocking(False)
        loop.add_reader(sock.fileno(), self._accept)

    def _accept(self) -> None:
        counts = self.turns.counts
        now = self.loop.time()
        if now > self.turn_ends and counts[self.slot] > self.turns.least_other(self.slot):
            # Another worker holds fewer connections: its turn first. If a connection
            # waits when the rest is over, this worker takes that one without asking.
            self.turn_ends = now + 2 * self.rest
            self._pause(self.rest)
            return
        try:
            conn, _ = self.sock.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return  # a sibling took it, or the client gave up first
        except OSError as exc:
            # Out of descriptors or memory: stop accepting for a while (as asyncio does)
            # rather than spin on a socket that stays readable.
            if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                logger.exception("accepting a connection failed")
            else:
                logger.error("cannot accept a connection: %s; retrying in 1 s", exc)
            self._pause(ACCEPT_RETRY_SECONDS)
            return
        self.turn_ends = 0.0
        counts[self.slot] += 1
        if conn.family in (socket.AF_INET, socket.AF_INET6):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        task = self.loop.create_task(self.loop.connect_accepted_socket(self._protocol, conn))
        task.add_done_callback(partial(self._set_up, conn))

    def _protocol(self):
        protocol = self.protocol_factory()
        protocol.on_lost = self._released
        return protocol

    def _released(self) -> None:
        self.turns.counts[self.slot] -= 1

    def _set_up(self, conn, task) -> None:
        if task.cancelled() or task.exception() is not None:
            if not task.cancelled():
                logger.debug("a connection failed as it was set up", exc_info=task.exception())
            conn.close()
            self._released()

    def _pause(self, seconds: float) -> None:
        self.loop.remove_reader(self.sock.fileno())
        self.loop.call_later(seconds, self._resume)

    def _resume(self) -> None:
        if not self.closed:
            self.loop.add_reader(self.sock.fileno(), self._accept)

    # what uvicorn's Server.shutdown asks of its servers
    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.loop.remove_reader(self.sock.fileno())

    async def wait_closed(self) -> None:
        return None


class SpreadServer(Server):
    """uvicorn's server, accepting the sockets gunicorn hands over through SpreadListener
    (with `turns` None, as uvicorn does), and handing event streams to the worker that
    holds them (`streams_name`: the holder's socket name, None for no hand-off)."""

    def __init__(
        self,
        config,
        turns: Turns | None,
        slot: int | None,
        rest: float,
        streams_name: bytes | None = None,
    ):
        super().__init__(config=config)
        self.turns, self.slot, self.rest = turns, slot, rest
        self.streams_name = streams_name
        self.handoff: Handoff | None = None

    def create_protocol(self, _loop=None):
        """A connection's protocol, as uvicorn's Server.startup makes them."""
        config = self.config
        return config.http_protocol_class(
            config=config,
            server_state=self.server_state,
            app_state=self.lifespan.state,
            _loop=_loop,
        )

    async def startup(self, sockets=None) -> None:
        if sockets is None or self.turns is None or self.slot is None:
            await super().startup(sockets=sockets)
        else:
            await self.lifespan.startup()
            if self.lifespan.should_exit:
                sys.exit(STARTUP_FAILURE)
            loop = asyncio.get_running_loop()
            self.servers = [
                SpreadListener(loop, sock, self.create_protocol, self.rest, self.turns, self.slot)
                for sock in sockets
            ]
            self.started = True
        if self.started and self.streams_name is not None:
            loop = asyncio.get_running_loop()
            self.handoff = Handoff(loop, self.streams_name, self.create_protocol)
            Protocol.handoff = self.handoff

    async def shutdown(self, sockets=None) -> None:
        if self.handoff is not None:  # no more streams handed to or by this worker
            Protocol.handoff = None
            self.handoff.close()
        await super().shutdown(sockets=sockets)


# The third threshold is how many young-generation collections pass before a full one
# (Python's default: 10). See Worker.run.
GC_THRESHOLDS = (700, 10, 1000)


class Worker(UvicornWorker):
    def run(self):
        """Serve, with the garbage collector tuned for a long-lived server process.

        A full collection walks every object the collector tracks. Open event streams keep
        many alive (each holds its request, response and coroutine), so with 1,000 open
        subscriptions on a node a full collection took ~110 ms of CPU and, under a stream of
        creates, ran often enough to cost 0.17 ms per request (measured with gc.callbacks in
        the workers during 10 s of POSTs at 8 connections). Two measures:
        - gc.freeze(): what loading the application made (modules, classes, URL patterns,
          caches) lives as long as the process, so it is moved out of the collector's
          sight; a full collection then took ~56 ms;
        - full collections a hundred times rarer than by default (GC_THRESHOLDS): none ran
          in the same 10 s. Cycles that reach the oldest generation wait longer to be
          freed; the young collections, which free nearly all of a request's garbage, are
          unchanged.
        """
        gc.freeze()  # the application is loaded by now (gunicorn's load_wsgi)
        gc.set_threshold(*GC_THRESHOLDS)
        if self.streams_name is not None:  # this worker may come to hold every stream
            raise_open_files_limit()
        return super().run()

    turns: Turns | None = None  # shared by the master and every worker it forks
    streams_socket: bytes | None = None  # the name the holder of the streams binds
    pins: CpuPins | None = None  # the master's

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # In the master, before the fork: the name of the socket its streams go to (one
        # per master), and this worker's slot in the shared counts.
        self.streams_name = None
        if self.cfg.workers > 1 and EVENTS_HANDOFF:
            if Worker.streams_socket is None:
                Worker.streams_socket = socket_name()
            self.streams_name = Worker.streams_socket
        self.slot = None
        if self.cfg.workers > 1 and ACCEPT_SPREAD_US > 0:
            if Worker.turns is None:
                Worker.turns = Turns()
            self.slot = Worker.turns.assign(self)
        self.cpu = None
        if WORKER_CPU_PINNING and hasattr(os, "sched_setaffinity"):
            cpus = usable_cpus()
            # More workers than CPUs are left to the kernel: two pinned to one CPU take
            # turns at it, and a request waits out the other's time slice.
            if 1 < len(cpus) and self.cfg.workers <= len(cpus):
                if Worker.pins is None:
                    Worker.pins = CpuPins(cpus, start=os.getpid())
                self.cpu = Worker.pins.assign(self)

    def init_process(self):
        """In the worker, just forked: onto its CPU before anything starts a thread (the
        threads it starts later inherit it)."""
        if self.cpu is not None:
            pin_to(self.cpu)
        super().init_process()

    async def _serve(self) -> None:
        """uvicorn_worker's own, with SpreadServer (a lone worker accepts as uvloop does)."""
        self.config.app = self.wsgi
        server = SpreadServer(
            self.config, Worker.turns, self.slot, ACCEPT_SPREAD_US / 1e6, self.streams_name
        )
        self._install_sigquit_handler()
        try:
            await server.serve(sockets=self.sockets)
        finally:
            if self.slot is not None:  # gone: never the least busy
                Worker.turns.counts[self.slot] = Turns.GONE
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)

    CONFIG_KWARGS = {
        "loop": "uvloop",
        "http": Protocol,
        "ws": "none",
        "lifespan": "off",  # Django's ASGI handler has no lifespan events
        "server_header": False,
    }
