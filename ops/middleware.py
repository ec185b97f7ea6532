"""The outermost middleware: a request id, one JSON log line and the metrics of every
request. It does only cheap things (a clock, a dict, a counter); bench/serving_bench.py
measures what it costs per request.
"""

import json
import logging
import os
import re
import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.db import connection

from accounts.caller import Caller
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
    given = request.META.get("HTTP_X_REQUEST_ID", "")
    request.request_id = given if _GOOD_ID.match(given) else os.urandom(16).hex()
    return time.perf_counter()


def _finish(request, response, began: float, db_seconds: float):
    seconds = time.perf_counter() - began
    response[HEADER] = request.request_id
    if "Access-Control-Expose-Headers" in response:
        response["Access-Control-Expose-Headers"] += f", {HEADER}"
    match = request.resolver_match
    route = match.route if match is not None else "unmatched"
    metrics.observe(request.method, route, response.status_code, seconds, db_seconds)
    if logger.isEnabledFor(logging.INFO):
        logger.info(
            json.dumps(
                {
                    "ts": round(time.time(), 3),
                    "request_id": request.request_id,
                    "method": request.method,
                    "path": request.path,
                    "route": route,
                    "status": response.status_code,
                    "ms": round(seconds * 1000, 2),
                    "db_ms": round(db_seconds * 1000, 2),
                    "application_id": _application_id(request),
                    "client": request.META.get("REMOTE_ADDR"),
                },
                separators=(",", ":"),
            )
        )
    return response


def _application_id(request) -> int | None:
    # DRF puts the authenticated Caller on the Django request. The console's `user` is a
    # lazy object that would cost a query to read, so only a Caller is looked at.
    caller = request.__dict__.get("user")
    return caller.application.pk if isinstance(caller, Caller) else None
