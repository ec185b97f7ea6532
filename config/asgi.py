"""The ASGI application the production server runs (`manage.py serve`).

Django's own ASGI handler runs the middleware chain in async mode: every synchronous
middleware method and the view each cost a hop between the event loop and a thread, and
every request gets a new thread with a new PostgreSQL connection. Measured on
`GET /health/live`, that was ~1.7 ms of CPU per request against ~0.3 ms for the same
code under a WSGI worker (bench/serving_bench.py, the README has the figures).

So this handler serves synchronous views the way a WSGI worker does, from inside the
event loop: the body is read first (a client that trickles its body, or never finishes
it, holds a connection and a coroutine, never a thread), then the whole synchronous
middleware chain and the view run in one call on one of ASGI_THREADS long-lived threads
of the worker process (each keeps its database connection between requests, as a WSGI
thread does), and the response is sent back by the event loop.

A body must keep coming: no chunk for BODY_IDLE_SECONDS (30) and the request ends with
408, so a client that stops sending holds nothing for ever either.

Async views (the live events stream) go through Django's own async path and take no
pooled thread: a stream may stay open for hours. The few synchronous calls Django makes
around them share one thread of the process instead of a thread per request.

The busiest record requests are first offered to the lean path (config/lane.py) in the
pooled thread, before any Django request object is built; what it hands back goes on
through Django as described above, in the same thread call.
"""

import asyncio
import os
import queue
import threading
from concurrent.futures import Executor, Future

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.http import FileResponse
from django.urls import Resolver404, resolve, set_script_prefix

from config import lane
from config.env import env_int

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

_END = object()


class PooledThreadsASGIHandler(ASGIHandler):
    def __init__(self, threads: int):
        super().__init__()  # the async chain, for async views
        self.sync_chain = BaseHandler()
        self.sync_chain.load_middleware(is_async=False)
        self.threads = threads
        self.body_idle_seconds = env_int("BODY_IDLE_SECONDS", 30)
        self._free: asyncio.Queue | None = None
        self._async_views: PooledThread | None = None

    def _pool(self) -> asyncio.Queue:
        """The free threads, the one that finished last on top. A request takes the most
        recently used thread, so a worker serving two requests at a time keeps using two
        threads and two database connections, warm, and the other threads wait for a
        burst or a slow request. Taking them in turn (a FIFO), every thread and its
        PostgreSQL backend served every few requests: at 8 connections over 3 workers,
        GETs and POSTs ran 11-14 % slower, as fast as with ASGI_THREADS=2 this way."""
        if self._free is None:  # made in the event loop that serves the requests
            self._free = asyncio.LifoQueue()
            for _ in range(self.threads):
                self._free.put_nowait(PooledThread())
        return self._free

    def _async_views_thread(self) -> "PooledThread":
        if self._async_views is None:
            self._async_views = PooledThread("async-views")
        return self._async_views

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        found = lane.find(scope["method"], scope["path"])
        if found is None and _is_async_view(scope["path"]):
            # Django's handler gives each request a thread-sensitive context, and so a
            # thread of its own for the synchronous calls it makes (the request signals'
            # receivers, synchronous middleware) for as long as the request lasts: a
            # thread per open stream. Those calls are short; they share one thread here.
            async with ThreadSensitiveContext(executor=self._async_views_thread()):
                return await super().__call__(scope, receive, send)
        try:
            body_file = await self.read_body(_BoundedReceive(receive, self.body_idle_seconds))
        except RequestAborted:
            return
        except TimeoutError:
            await self.send_response(_timeout_response(), send)
            return
        free = self._pool()
        executor = await free.get()
        try:
            await self._serve_sync(scope, body_file, send, found, executor)
        finally:
            body_file.close()
            free.put_nowait(executor)

    async def _serve_sync(self, scope, body_file, send, found, executor) -> None:
        # The request runs on this request's pooled thread. The first call goes there
        # directly (asgiref's sync_to_async costs several times more CPU per call); later
        # ones use sync_to_async, whose default thread_sensitive=True sends each call to
        # the pooled thread of this request's context. Only Django's responses make later
        # calls: a lean answer is sent as it is, without entering that context.
        response = await executor.call(self._respond, scope, body_file, found)
        if isinstance(response, lane.LaneResponse):
            await send(_lane_start(response))
            await send({"type": "http.response.body", "body": response.body})
            return
        async with ThreadSensitiveContext(executor=executor):
            try:
                if response.streaming and not response.is_async:
                    await self._send_streaming(response, send)
                else:
                    await self.send_response(response, send)
            finally:
                await sync_to_async(response.close)()  # sends request_finished

    def _respond(self, scope, body_file, found):
        """What a WSGI handler does for one request, in the pooled thread."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        if found is not None:
            lean = _lane_request(scope, body_file)
            answered = lane.answer(lean, found) if lean is not None else None
            if answered is not None:
                signals.request_finished.send(sender=self.__class__)
                return answered
            scope["lane_asked"] = True  # LaneMiddleware: asked already
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            return error_response
        response = self.sync_chain.get_response(request)
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        return response

    async def _send_streaming(self, response, send) -> None:
        """A synchronous iterator (a file, an export) is read chunk by chunk in the
        pooled thread, so it may use the database and is never held in memory whole."""
        await send(_start_message(response))
        chunks = iter(response.streaming_content)
        read = sync_to_async(lambda: next(chunks, _END))
        while (part := await read()) is not _END:
            for chunk, _ in self.chunk_bytes(part):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body"})


class PooledThread(Executor):
    """One long-lived thread that runs the calls it is given, one after the other.

    `await pooled.call(fn, *args)` is how the event loop hands it a request: the call and
    an asyncio future go on a queue, and the thread sets the future's result through the
    loop. `submit()` is the `concurrent.futures` way, for asgiref's sync_to_async (the
    later calls of a Django response, and the synchronous calls around async views). Both
    reach the same thread, which keeps its database connection between requests. A
    ThreadPoolExecutor of one thread did the same with a concurrent future, an idle
    semaphore and a chained asyncio future per call: ~5-8 % of a lean request's CPU in a
    profile."""

    def __init__(self, name: str = "asgi-pooled"):
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    async def call(self, fn, *args):
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._calls.put((fn, args, {}, future, loop))
        return await future

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        self._calls.put((fn, args, kwargs, future, None))
        return future

    def _serve(self) -> None:
        while True:
            fn, args, kwargs, future, loop = self._calls.get()
            if loop is None:  # from submit()
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fn(*args, **kwargs))
                    except BaseException as exc:  # noqa: BLE001 - the caller's to see
                        future.set_exception(exc)
                continue
            try:
                outcome = (fn(*args), None)
            except BaseException as exc:  # noqa: BLE001 - the caller's to see
                outcome = (None, exc)
            try:
                loop.call_soon_threadsafe(_settle, future, *outcome)
            except RuntimeError:  # the loop has closed: nobody waits any more
                pass


def _settle(future: asyncio.Future, result, exc) -> None:
    if future.cancelled():  # the request went away while its call ran
        return
    if exc is None:
        future.set_result(result)
    else:
        future.set_exception(exc)


def _lane_request(scope, body_file) -> lane.LaneRequest | None:
    """The request as the lean path reads it; None for a body it would not read."""
    headers: dict = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin1").lower(), raw_value.decode("latin1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    body_file.seek(0, 2)
    size = body_file.tell()
    body_file.seek(0)
    if not lane.reads_body(headers.get("content-type"), size):
        return None
    body = body_file.read() if size else b""
    body_file.seek(0)
    client = scope.get("client")
    return lane.LaneRequest(
        method=scope["method"],
        path=scope["path"].removesuffix(".json"),
        query_string=scope.get("query_string", b"").decode("latin1"),
        headers=headers,
        body=body,
        client=client[0] if client else None,
        scheme=scope.get("scheme") or "http",
    )


def _lane_start(response) -> dict:
    headers = [(n.encode("latin1"), v.encode("latin1")) for n, v in response.headers]
    return {"type": "http.response.start", "status": response.status, "headers": headers}


class _BoundedReceive:
    """`receive` that gives up when the client sends nothing for `seconds`."""

    def __init__(self, receive, seconds: float):
        self.receive, self.seconds = receive, seconds

    async def __call__(self):
        # not asyncio.wait_for: it makes a task per call (every request body is read
        # through this), and on Python 3.11 it can swallow a cancellation
        async with asyncio.timeout(self.seconds):
            return await self.receive()


def _timeout_response():
    from config.api.errors import json_error

    response = json_error(408, "the request body stopped arriving")
    response["Connection"] = "close"
    return response


def _start_message(response) -> dict:
    headers = [(name.encode("ascii"), value.encode("latin1")) for name, value in response.items()]
    headers += [
        (b"Set-Cookie", c.output(header="").encode("ascii").strip())
        for c in response.cookies.values()
    ]
    return {"type": "http.response.start", "status": response.status_code, "headers": headers}


def _is_async_view(path: str) -> bool:
    try:
        match = resolve(path.removesuffix(".json"))
    except Resolver404:
        return False
    return asyncio.iscoroutinefunction(match.func) or getattr(match.func, "view_is_async", False)


def _application():
    import django

    django.setup(set_prefix=False)
    threads = env_int("ASGI_THREADS", 4)
    # 0: Django's own handler (kept for comparison, see above)
    return PooledThreadsASGIHandler(threads) if threads > 0 else ASGIHandler()


application = _application()
