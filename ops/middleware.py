"""The outermost middleware: a request id, one JSON log line and the metrics of every
request. It does only cheap things (a clock, a dict, a counter); bench/serving_bench.py
measures what it costs per request.
"""

import logging
import os
import re
import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.db import connection

from accounts.caller import Caller
from config.jsontext import dumps
from ops import metrics

logger = logging.getLogger("cubebase.requests")

HEADER = "X-Request-ID"
# An id set by a proxy or a client is kept when it is a plain token; anything else
# (too long, spaces, quotes) is replaced, so a log line can't be forged through it.
_GOOD_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestLogMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        began = _begin(request)
        timer = metrics.DatabaseTimer()
        with connection.execute_wrapper(timer):
            response = self.get_response(request)
        return _finish(request, response, began, timer.seconds)

    async def __acall__(self, request):
        began = _begin(request)
        response = await self.get_response(request)
        return _finish(request, response, began, 0.0)


def _begin(request) -> float:
    request.request_id = request_id(request.META.get("HTTP_X_REQUEST_ID", ""))
    return time.perf_counter()


def request_id(given: str) -> str:
    """The id a proxy or client sent, when it is a plain token; else a new one."""
    return given if _GOOD_ID.match(given) else os.urandom(16).hex()


def _finish(request, response, began: float, db_seconds: float):
    seconds = time.perf_counter() - began
    response[HEADER] = request.request_id
    if "Access-Control-Expose-Headers" in response:
        response["Access-Control-Expose-Headers"] += f", {HEADER}"
    match = request.resolver_match
    finished(
        request.method,
        request.path,
        match.route if match is not None else "unmatched",
        response.status_code,
        seconds,
        db_seconds,
        request_id=request.request_id,
        application_id=_application_id(request),
        client=request.META.get("REMOTE_ADDR"),
    )
    return response


def finished(
    method, path, route, status, seconds, db_seconds, *, request_id, application_id, client
):
    """The metrics and the log line of one answered request (also the lean path's,
    config/lane.py)."""
    metrics.observe(method, route, status, seconds, db_seconds)
    if logger.isEnabledFor(logging.INFO):
        logger.info(
            dumps(
                {
                    "ts": round(time.time(), 3),
                    "request_id": request_id,
                    "method": method,
                    "path": path,
                    "route": route,
                    "status": status,
                    "ms": round(seconds * 1000, 2),
                    "db_ms": round(db_seconds * 1000, 2),
                    "application_id": application_id,
                    "client": client,
                }
            )
        )


def _application_id(request) -> int | None:
    # DRF puts the authenticated Caller on the Django request. The console's `user` is a
    # lazy object that would cost a query to read, so only a Caller is looked at.
    caller = request.__dict__.get("user")
    return caller.application.pk if isinstance(caller, Caller) else None
