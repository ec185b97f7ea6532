"""GET /health, the request id and log line of every request, and /metrics."""

import json
import logging
import os
import urllib.request
from pathlib import Path

import pytest
from django.test import Client

from tests.conftest import token_for
from tests.ops.test_servers import get

pytestmark = pytest.mark.django_db


def test_health_answers_without_a_session():
    response = Client().get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name: c["status"] for name, c in body["checks"].items()} == {
        "database": "ok",
        "storage": "ok",
    }
    assert Client().get("/health/live").json() == {"status": "ok"}


def test_health_is_503_when_the_storage_is_unreachable(settings, tmp_path):
    (tmp_path / "unmounted").write_text("a file where the folder should be")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "unmounted")},
        },
    }
    response = Client().get("/health")
    assert response.status_code == 503
    assert response.json()["checks"]["storage"] == {"status": "unavailable"}
    assert response.json()["checks"]["database"]["status"] == "ok"
    assert Client().get("/health/live").status_code == 200  # alive, just not ready


@pytest.fixture
def request_log(caplog):
    logger = logging.getLogger("cubebase.requests")  # does not propagate to the root
    logger.addHandler(caplog.handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield lambda: [json.loads(r.getMessage()) for r in caplog.records if r.name == logger.name]
    logger.setLevel(level)
    logger.removeHandler(caplog.handler)


def test_every_answer_carries_a_request_id_and_logs_one_json_line(request_log, application):
    token = token_for(application)
    response = Client().get("/session.json", HTTP_CB_TOKEN=token)
    assert response.status_code == 200
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32
    (line,) = request_log()
    assert line["request_id"] == request_id
    assert (line["method"], line["path"], line["route"], line["status"]) == (
        "GET",
        "/session.json",
        "session",
        200,
    )
    assert line["application_id"] == application.pk
    assert line["ms"] > 0 and line["db_ms"] > 0


def test_a_proxys_request_id_is_kept_and_a_forged_one_replaced():
    assert Client().get("/health/live", HTTP_X_REQUEST_ID="lb-1234")["X-Request-ID"] == "lb-1234"
    forged = Client().get("/health/live", HTTP_X_REQUEST_ID='x" "status":200')
    assert forged["X-Request-ID"] != 'x" "status":200'


def test_browsers_may_read_the_request_id():
    response = Client().get("/health/live", HTTP_ORIGIN="https://app.example.com")
    assert "X-Request-ID" in response["Access-Control-Expose-Headers"]


def test_health_is_not_redirected_to_https(settings):
    settings.SECURE_SSL_REDIRECT = True
    assert Client().get("/health/live").status_code == 200
    assert Client().get("/session").status_code == 301


def scrape(url: str) -> tuple[str, dict]:
    request = urllib.request.Request(url + "/metrics", headers={"Authorization": "Bearer s3cret"})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    counts = {}
    for line in text.splitlines():
        if line.startswith("cubebase_http_requests_total{"):
            labels, value = line.rsplit(" ", 1)
            counts[labels] = float(value)
    return text, counts


def answered(counts: dict, route: str, status: int) -> float:
    return sum(
        v for k, v in counts.items() if f'route="{route}"' in k and f'status="{status}"' in k
    )


def test_metrics_count_the_requests_of_every_worker(app_servers):
    (server,) = app_servers.start(env={"METRICS_TOKEN": "s3cret"}, workers=2)
    _, before = scrape(server.url)
    for _ in range(40):
        request = urllib.request.Request(server.url + "/health/live")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
    assert get(server.url + "/session")[0] == 401
    assert get(server.url + "/metrics")[0] == 404  # private without the token

    text, after = scrape(server.url)
    # each request went to whichever worker took the connection; every one is counted
    assert answered(after, "health/live", 200) - answered(before, "health/live", 200) == 40
    assert answered(after, "session", 401) == 1
    assert "cubebase_http_request_duration_seconds_bucket" in text
    assert "cubebase_http_request_database_seconds_sum" in text
    # each worker counted in a file of its own process id (ops.metrics.process_id)
    workers = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    counted = {f.stem.rsplit("_", 1)[1] for f in Path(server._metrics_dir).glob("counter_*.db")}
    assert counted and counted <= set(workers)


def test_a_forked_child_knows_its_own_process():
    """config.processes.process_id, which the metrics' files and the events' wake-up go
    by, is the child's own id in a child forked after it was read; record ids made there
    carry process bytes of their own (records.ids)."""
    from config.processes import process_id
    from records.ids import new_object_id

    parent_bytes = new_object_id()[8:18]  # the 5 bytes fixed per process
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports and leaves at once
        os.write(write, f"{process_id()} {os.getpid()} {new_object_id()[8:18]}".encode())
        os._exit(0)
    os.waitpid(child, 0)
    told, actual, child_bytes = os.read(read, 100).decode().split()
    os.close(read), os.close(write)
    assert told == actual == str(child)
    assert child_bytes != parent_bytes
    assert process_id() == os.getpid() and new_object_id()[8:18] == parent_bytes
