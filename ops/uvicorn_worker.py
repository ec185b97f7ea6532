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

import gc

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
        return super().run()

    CONFIG_KWARGS = {
        "loop": "uvloop",
        "http": Protocol,
        "ws": "none",
        "lifespan": "off",  # Django's ASGI handler has no lifespan events
        "server_header": False,
    }
