"""GET /health: what a load balancer and an orchestrator ask before sending traffic.

`/health/live` answers 200 as long as the process serves requests (liveness: restart me
if this fails). `/health` also checks that the database answers and the file storage is
reachable (readiness: stop sending me requests while this fails), 503 naming what failed.
Neither needs a session, and neither says more than "ok" or "unavailable" per check.
"""

import logging
import os
import time

from django.core.files.storage import default_storage
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

logger = logging.getLogger(__name__)


def _database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")


def _storage() -> None:
    bucket = getattr(default_storage, "bucket_name", None)
    if bucket:  # S3: the bucket exists and these credentials may use it
        default_storage.connection.meta.client.head_bucket(Bucket=bucket)
        return
    # the filesystem: a folder this process can write (made here if missing, as the
    # storage itself would on the first upload)
    location = default_storage.location
    os.makedirs(location, exist_ok=True)
    if not os.access(location, os.W_OK):
        raise OSError(f"{location} is not a writable folder")


CHECKS = {"database": _database, "storage": _storage}


@never_cache
def live(request):
    return JsonResponse({"status": "ok"})


@never_cache
def ready(request):
    checks, healthy = {}, True
    for name, check in CHECKS.items():
        began = time.perf_counter()
        try:
            check()
            checks[name] = {"status": "ok", "ms": round((time.perf_counter() - began) * 1000, 1)}
        except Exception:
            logger.exception("health check %s failed", name)
            checks[name] = {"status": "unavailable"}
            healthy = False
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )
