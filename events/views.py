"""`GET /data/{class}/events`: a Server-Sent Events subscription (API.md §9).

An async Django view (not DRF): it checks the session, the class and the conditions in a
thread like any request, then answers a streaming response whose body is an async
iterator fed by the process's hub, so an open subscription holds no thread or worker.
"""

import asyncio
import json

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse

from accounts.authentication import session_for_token, token_from
from accounts.caller import Caller
from classes.selectors import class_by_name
from config.api.errors import ApiError, BadRequest, Unauthorized, json_error
from config.api.parsers import nest
from events.hub import RESET, get_hub, ping_seconds
from events.journal import Position
from events.subscriptions import ALL_TYPES, Subscription, render
from records.query import QueryError, parse

RETRY_MS = 2000
# Parameters of the subscription itself; everything else is a list condition of §5.
OWN_PARAMS = ("token", "types", "last_event_id")


def _types(raw) -> frozenset:
    if raw in (None, ""):
        return ALL_TYPES
    names = {t.strip() for t in str(raw).split(",") if t.strip()}
    unknown = names - ALL_TYPES
    if unknown or not names:
        raise BadRequest({"types": [f"unknown event type(s): {', '.join(sorted(unknown))}"]})
    return frozenset(names)


def open_subscription(request, class_name: str) -> tuple[Subscription, Position | None]:
    """Everything a subscription needs, checked as a list request is: 401, 404, 400/422."""
    token = token_from(request)
    session = session_for_token(token) if token else None
    if session is None:
        raise Unauthorized()
    caller = Caller.for_session(session)
    klass = class_by_name(application=caller.application, name=class_name)
    params = nest(request.GET)
    types = _types(params.get("types"))
    conditions = {k: v for k, v in params.items() if k not in OWN_PARAMS}
    query = parse(klass, conditions, criteria_only=True)
    if query.calcs:
        raise QueryError({"base": ["a subscription takes conditions only, not calc"]})
    key = json.dumps([klass.pk, conditions], sort_keys=True, default=str)
    sub = Subscription(
        caller=caller,
        klass=klass,
        query=query if (query.terms or query.or_terms or query.near) else None,
        conditions_key=key,
        types=types,
    )
    resume = request.headers.get("Last-Event-ID") or params.get("last_event_id")
    start = None
    if resume:
        # An id that is not one of ours cannot be resumed from: the client must reload.
        start = Position.parse(resume if isinstance(resume, str) else None) or RESET
    return sub, start


def _error(exc: ApiError):
    response = json_error(exc.status, exc.errors)
    if exc.status == 401:
        response["WWW-Authenticate"] = "CB-Token"
    return response


async def events_view(request, class_name: str):
    if request.method != "GET":
        return json_error(405, f'Method "{request.method}" not allowed.')
    if not hasattr(request, "scope"):  # a WSGI server (runserver) cannot hold a stream open
        try:
            await sync_to_async(open_subscription)(request, class_name)
        except ApiError as exc:
            return _error(exc)
        return json_error(501, "subscriptions need the ASGI server: use `make run`")
    hub = get_hub()
    try:
        # In the hub's thread: its one connection serves every subscription's checks, so
        # a thousand subscribers arriving at once do not open a thousand connections.
        sub, start = await hub.run(open_subscription, request, class_name)
    except ApiError as exc:
        return _error(exc)
    first = await hub.subscribe(sub, start)
    response = StreamingHttpResponse(stream(hub, sub, first), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # proxies must not buffer the stream
    return response


async def stream(hub, sub, first):
    """The response body: catch-up first, then live batches, a ping when quiet."""
    try:
        yield f"retry: {RETRY_MS}\n: connected\n\n"
        for item in first:
            if item == RESET:
                yield f"id: {sub.position}\nevent: reset\ndata: {{}}\n\n"
            else:
                text = render(sub, item)
                if text:
                    yield text
        while sub.ended is None:
            try:  # not asyncio.wait_for: a task per wait, and 3.11's lost cancellations
                async with asyncio.timeout(ping_seconds()):
                    item = await sub.queue.get()
            except TimeoutError:
                if sub.queue.empty():  # every batch the hub read so far is behind us
                    sub.position = hub.position
                yield f": ping\nid: {sub.position}\n\n"
                continue
            if item is None or sub.ended is not None:
                break
            text, sub.position = item
            yield text
    finally:
        hub.unsubscribe(sub)
