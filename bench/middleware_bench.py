#!/usr/bin/env python
"""What the request id, log line and metrics middleware (ops/middleware.py) costs per
request, measured in-process: the same trivial view called through the middleware and
without it, interleaved rounds, medians.

    .venv/bin/python bench/middleware_bench.py [--requests 20000] [--rounds 5]

Three variants: without the middleware; with it and the log line off (REQUEST_LOG=0, only
the request id and the metrics); with it and the JSON log line written (to /dev/null).
The view runs no SQL (a database round trip would drown the figures in its noise); the
statement timer's own cost per statement is measured apart, around a no-op execute.
"""

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cubebase-bench-") as tmp:
        from bench._live import Database

        db = Database(Path(tmp))
        try:
            run(args)
        finally:
            db.stop()


def run(args) -> None:
    from django.http import HttpResponse
    from django.test import RequestFactory
    from django.urls import resolve

    from ops.middleware import RequestLogMiddleware

    def view(request):
        return HttpResponse(b"{}", content_type="application/json")

    bare = view
    wrapped = RequestLogMiddleware(view)
    logger = logging.getLogger("cubebase.requests")
    logger.handlers = [logging.StreamHandler(open(os.devnull, "w"))]  # noqa: SIM115
    factory = RequestFactory()
    match = resolve("/health/live")

    def timed(handler, log: bool) -> float:
        logger.setLevel(logging.INFO if log else logging.WARNING)
        requests = []
        for _ in range(args.requests):
            request = factory.get("/health/live")
            request.resolver_match = match
            requests.append(request)
        began = time.perf_counter()
        for request in requests:
            handler(request)
        return (time.perf_counter() - began) / args.requests * 1e6

    variants = {
        "no middleware": (bare, False),
        "request id + metrics": (wrapped, False),
        "request id + metrics + JSON log line": (wrapped, True),
    }
    results = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, (handler, log) in variants.items():
            results[name].append(timed(handler, log))
    from ops.metrics import DatabaseTimer

    timer, count = DatabaseTimer(), 200_000
    began = time.perf_counter()
    for _ in range(count):
        timer(_no_op, "SELECT 1", None, False, None)
    per_statement = (time.perf_counter() - began) / count * 1e6
    began = time.perf_counter()
    for _ in range(count):
        _no_op("SELECT 1", None, False, None)
    per_statement -= (time.perf_counter() - began) / count * 1e6
    base = statistics.median(results["no middleware"])
    print(f"\n{args.requests} requests x {args.rounds} interleaved rounds, medians (µs/request)")
    for name, runs in results.items():
        med = statistics.median(runs)
        print(f"{name:<40} {med:8.1f}   {med - base:+7.1f}")
    print(f"{'statement timer, per SQL statement':<40} {'':8}   {per_statement:+7.1f}")


def _no_op(sql, params, many, context):
    return None


if __name__ == "__main__":
    main()
