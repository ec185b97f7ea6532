"""The gunicorn worker class of the production server: uvicorn's event loop in each
worker process, with its fast parts (uvloop, httptools) named rather than left to
'auto' so a missing one fails at start instead of silently serving slower.

Its HTTP protocol adds one thing to uvicorn's: a deadline for the request head. uvicorn
times out idle keep-alive connections, but a client that connects and sends nothing, or
sends its headers a byte at a time, would hold its connection for ever. Each request's
head (request line and headers) must now arrive within HEADER_TIMEOUT_SECONDS of the
connection or of its first byte; otherwise the connection is closed. (The body is
config/asgi.py's business: it is read without holding a thread, with its own timeout.)
"""

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn_worker import UvicornWorker

from config.env import env_int

HEADER_TIMEOUT_SECONDS = env_int("HEADER_TIMEOUT_SECONDS", 10)


class Protocol(HttpToolsProtocol):
    head_timer = None

    def connection_made(self, transport):
        super().connection_made(transport)
        self._start_head_timer()

    def on_message_begin(self):
        super().on_message_begin()
        self._start_head_timer()  # a keep-alive connection's next request

    def on_headers_complete(self):
        self._stop_head_timer()
        super().on_headers_complete()

    def connection_lost(self, exc):
        self._stop_head_timer()
        super().connection_lost(exc)

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


class Worker(UvicornWorker):
    CONFIG_KWARGS = {
        "loop": "uvloop",
        "http": Protocol,
        "ws": "none",
        "lifespan": "off",  # Django's ASGI handler has no lifespan events
        "server_header": False,
    }
