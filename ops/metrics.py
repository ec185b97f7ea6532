"""Prometheus metrics through prometheus-client, in its multiprocess mode when the server
runs several worker processes (`manage.py serve` gives them a shared folder in
PROMETHEUS_MULTIPROC_DIR): each worker writes its own memory-mapped file, and
`GET /metrics` adds them up, so any worker answers for all of them.

The path answers only with `Authorization: Bearer <METRICS_TOKEN>`; with no METRICS_TOKEN
it is a 404, so it stays private unless you choose otherwise.
"""

import hmac
import os
import time

from django.conf import settings
from django.http import Http404, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

from config.processes import process_id

# In multiprocess mode (the library's choice, from its environment variable) every
# increment asks for the process id, to notice a fork and move to the new process's own
# file: five `getpid` system calls a request. The library takes the function that
# answers it (prometheus_client.values.MultiProcessValue).
if values.ValueClass._multiprocess:
    values.ValueClass = values.MultiProcessValue(process_id)

# Buckets for a fast API: most answers take a few milliseconds.
_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "cubebase_http_requests_total",
    "Requests answered, by route, method and status.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "cubebase_http_request_duration_seconds",
    "Time from the request reaching Django to its response, by route and method.",
    ["route", "method"],
    buckets=_BUCKETS,
)
DATABASE = Histogram(
    "cubebase_http_request_database_seconds",
    "Time spent in database statements per request, by route and method.",
    ["route", "method"],
    buckets=_BUCKETS,
)

# Live events. "livesum": the open streams of the workers alive now (a worker that dies is
# forgotten: ops/gunicorn_hooks.py).
EVENT_STREAMS = Gauge(
    "cubebase_event_streams_open",
    "Event subscriptions open on this server.",
    multiprocess_mode="livesum",
)
STREAM_HANDOFFS = Counter(
    "cubebase_event_stream_handoffs_total",
    "Subscriptions a worker passed to the worker holding the server's streams (handed), "
    "or served itself because it could not (kept).",
    ["outcome"],
)


class DatabaseTimer:
    """A connection.execute_wrapper adding up the time of the statements it runs."""

    def __init__(self):
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - began


_children: dict = {}  # (route, method, status) -> the three labelled metrics


def observe(method: str, route: str, status: int, seconds: float, db_seconds: float) -> None:
    key = (route, method, status)
    children = _children.get(key)
    if children is None:  # routes, methods and statuses are few: this stays small
        children = _children[key] = (
            REQUESTS.labels(route, method, status),
            LATENCY.labels(route, method),
            DATABASE.labels(route, method),
        )
    count, latency, database = children
    count.inc()
    latency.observe(seconds)
    database.observe(db_seconds)


def metrics_view(request):
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not token or not hmac.compare_digest(given.encode(), token.encode()):
        raise Http404
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY as registry
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
