"""The production server's HTTP protocol (ops.uvicorn_worker.Protocol) sends a response's
head and body in one write when the body follows at once, and still sends the head of a
response whose body is slow to come (an event stream) without waiting for it."""

import asyncio

from uvicorn.config import Config
from uvicorn.lifespan.off import LifespanOff
from uvicorn.server import ServerState

from ops.uvicorn_worker import HeadHeld, Protocol
from tests.events.streams import run  # asyncio.run on a thread of its own

REQUEST = b"GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n"
BODY = b'{"ok":true}'


class Transport(asyncio.Transport):
    """A connection's transport that keeps what the server writes, write by write."""

    def __init__(self):
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data):
        self.writes.append(bytes(data))

    def close(self):
        self.closed = True

    def is_closing(self):
        return self.closed

    def get_extra_info(self, name, default=None):
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 5000)}.get(name, default)

    def pause_reading(self):
        pass

    def resume_reading(self):
        pass


async def served(app, request: bytes = REQUEST, transport: Transport | None = None) -> Transport:
    """What `app`, served by the production protocol, wrote for `request`."""
    config = Config(app=app, http=Protocol, lifespan="off", log_level="warning")
    config.load()
    protocol = Protocol(
        config=config,
        server_state=ServerState(),
        app_state=LifespanOff(config).state,
        _loop=asyncio.get_running_loop(),
    )
    transport = transport or Transport()
    protocol.connection_made(transport)
    protocol.data_received(request)
    await asyncio.sleep(0.05)
    protocol.connection_lost(None)
    return transport


async def at_once(scope, receive, send):
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(BODY)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": BODY})


def test_a_response_whose_body_follows_at_once_leaves_in_one_write():
    transport = run(served(at_once))
    assert len(transport.writes) == 1
    head, _, body = transport.writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"content-length: 11" in head.lower()
    assert body == BODY


def test_keep_alive_requests_each_leave_in_one_write():
    transport = run(served(at_once, REQUEST * 3))
    assert len(transport.writes) == 3
    assert all(write.endswith(b"\r\n\r\n" + BODY) for write in transport.writes)


def test_the_head_of_a_slow_body_goes_out_before_the_body():
    transport = Transport()
    before_body: list[bytes] = []

    async def streaming(scope, receive, send):
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        await asyncio.sleep(0.01)
        before_body.extend(transport.writes)
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b"data: 2\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    run(served(streaming, transport=transport))
    # the head alone, written on the loop's next turn, while the first event did not exist
    assert len(before_body) == 1
    assert before_body[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert before_body[0].endswith(b"\r\n\r\n")
    body = b"".join(transport.writes[1:])
    assert b"data: 1\n\n" in body and b"data: 2\n\n" in body


def test_closing_sends_a_held_head_first():
    async def scenario():
        transport = Transport()
        held = HeadHeld(transport, asyncio.get_running_loop())
        held.write(b"HTTP/1.1 200 OK\r\n\r\n")
        assert transport.writes == []  # held until the body or the loop's next turn
        held.close()
        await asyncio.sleep(0)  # the scheduled flush finds nothing left to send
        return transport

    transport = run(scenario())
    assert transport.writes == [b"HTTP/1.1 200 OK\r\n\r\n"]
    assert transport.closed


def test_a_large_first_chunk_is_not_copied_to_join_the_head():
    async def scenario():
        transport = Transport()
        held = HeadHeld(transport, asyncio.get_running_loop())
        big = b"x" * (HeadHeld.JOIN_AT_MOST + 1)
        held.write(b"HEAD\r\n\r\n")
        held.write(big)
        held.write(b"tail")
        await asyncio.sleep(0)
        return transport, big

    transport, big = run(scenario())
    assert transport.writes == [b"HEAD\r\n\r\n", big, b"tail"]
