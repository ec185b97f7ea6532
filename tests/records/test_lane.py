"""The lean path (config/lane.py, records/lane.py) answers the busiest record requests
without DRF, and exactly as the DRF views do: same status, body and headers; whatever it
does not answer itself goes to the views."""

import json
import logging

import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework.views import APIView

from accounts.models import ApiSession
from records.models import Record
from tests.conftest import make_user, token_for
from tests.records.conftest import make_class


def _call(token, method, path, body=None, headers=None):
    client = APIClient()
    extra = {"HTTP_CB_TOKEN": token} if token else {}
    extra.update(headers or {})
    kwargs = {}
    if body is not None:
        kwargs = {"data": json.dumps(body), "content_type": "application/json"}
    response = getattr(client, method.lower())(path, **kwargs, **extra)
    return response


def _answer(response) -> tuple:
    headers = {k.lower(): v for k, v in response.items() if k.lower() != "x-request-id"}
    return response.status_code, response.content, headers


@pytest.fixture
def world(application, owner, stranger, create):
    make_class(application, "locked", [("n", "integer")], permissions={"read": {"access": "owner"}})
    mine = create(full_name="Nadine Collier", age=41, tags=["a"])
    create(full_name="Bob", age=30)
    private = create(full_name="Hidden", age=50, permissions={"read": {"access": "owner"}})
    return {
        "owner": token_for(application, owner),
        "stranger": token_for(application, stranger),
        "app": token_for(application),
        "mine": mine.pk,
        "private": private.pk,
        "auth_key": application.auth_key,
        "application_id": application.pk,
    }


READS = [
    ("owner", "GET", "/data/profile/{mine}", None, {}),
    ("owner", "GET", "/data/profile/{mine}.json", None, {}),
    ("app", "GET", "/data/profile/{mine}", None, {}),
    ("stranger", "GET", "/data/profile/{private}", None, {}),  # 403
    ("owner", "GET", "/data/profile/ffffffffffffffffffffffff", None, {}),  # 404
    ("owner", "GET", "/data/nothing/{mine}", None, {}),  # no such class
    ("owner", "GET", "/data/profile/{mine}?permissions=1", None, {}),
    ("owner", "GET", "/data/profile?age[gte]=30&sort_desc=age&limit=2", None, {}),
    ("stranger", "GET", "/data/profile?age[gte]=30&sort_asc=age", None, {}),
    ("owner", "GET", "/data/profile?age[gte]=30&count=1", None, {}),
    ("owner", "GET", "/data/profile?output[include]=age", None, {}),
    ("owner", "GET", "/data/profile?age[between]=1", None, {}),  # unknown operator
    ("owner", "GET", "/data/profile?age[gt]=old", None, {}),  # bad value
    ("owner", "GET", "/data/profile?a[b=1", None, {}),  # malformed brackets
    ("owner", "GET", "/data/locked", None, {}),
    (None, "GET", "/data/profile", None, {}),  # no token
    ("owner", "GET", "/data/profile", None, {"HTTP_ORIGIN": "https://app.example"}),
    ("owner", "GET", "/data/profile", None, {"HTTP_ACCEPT": "application/json; indent=2"}),
    ("owner", "GET", "/data/profile", None, {"HTTP_ACCEPT": "text/html"}),
    ("owner", "GET", "/data/profile", None, {"HTTP_CB_AUTHKEY": "not-the-key"}),
    ("owner", "GET", "/data/profile", None, {"HTTP_CB_AUTHKEY": "{auth_key}"}),
    ("owner", "GET", "/data/profile", None, {"HTTP_HOST": "evil.example"}),  # 400
    ("owner", "GET", "/data/profile/{mine}", None, {"HTTP_HOST": "localhost:8000"}),
]


@pytest.mark.parametrize("who, method, path, body, headers", READS)
def test_reads_are_answered_as_the_views_answer_them(
    world, settings, who, method, path, body, headers
):
    path = path.format(**world)
    headers = {k: v.format(**world) for k, v in headers.items()}
    token = world[who] if who else None
    settings.LANE = True
    lean = _answer(_call(token, method, path, body, headers))
    settings.LANE = False
    full = _answer(_call(token, method, path, body, headers))
    assert lean == full


WRITES = [
    ("owner", "POST", "/data/profile", {"full_name": "New", "age": "7", "tags": ["x"]}),
    (
        "owner",
        "POST",
        "/data/profile",
        {"full_name": "Mine", "permissions": {"read": {"access": "owner"}}},
    ),
    ("owner", "POST", "/data/profile", {"age": "seven"}),  # 422
    ("owner", "POST", "/data/profile", {"nope": 1}),  # unknown field
    ("app", "POST", "/data/profile", {"age": 1}),  # 403: no user
    ("owner", "PUT", "/data/profile/{mine}", {"inc": {"age": 1}, "job": "pilot"}),
    ("owner", "PUT", "/data/profile/{mine}", {"inc": {"full_name": 1}}),  # 422
    ("stranger", "PUT", "/data/profile/{mine}", {"age": 1}),  # 403
    ("owner", "PUT", "/data/profile/ffffffffffffffffffffffff", {"age": 1}),  # 404
]


def _same_write(a, b) -> None:
    """Two answers to the same write made twice: equal but for the new record's id and
    times."""
    (status_a, body_a, headers_a), (status_b, body_b, headers_b) = a, b
    assert status_a == status_b
    assert headers_a.keys() == headers_b.keys()
    assert {k: v for k, v in headers_a.items() if k != "content-length"} == {
        k: v for k, v in headers_b.items() if k != "content-length"
    }
    one, two = json.loads(body_a), json.loads(body_b)
    if status_a == 201:
        for key in ("_id", "created_at", "updated_at"):
            one.pop(key), two.pop(key)
    if status_a == 200:
        one.pop("updated_at"), two.pop("updated_at")
        one["age"] = two["age"]  # each increments once
    assert one == two


@pytest.mark.parametrize("who, method, path, body", WRITES)
def test_writes_are_answered_as_the_views_answer_them(world, settings, who, method, path, body):
    path = path.format(**world)
    settings.LANE = True
    lean = _answer(_call(world[who], method, path, body))
    settings.LANE = False
    full = _answer(_call(world[who], method, path, body))
    _same_write(lean, full)


def test_the_busiest_requests_do_not_go_through_drf(world, monkeypatch, owner):
    def refuse(*args, **kwargs):
        raise AssertionError("went through DRF")

    monkeypatch.setattr(APIView, "dispatch", refuse)
    mine = world["mine"]
    response = _call(world["owner"], "GET", f"/data/profile/{mine}")
    assert response.status_code == 200
    assert response.json()["items"][0]["full_name"] == "Nadine Collier"
    response = _call(world["owner"], "GET", "/data/profile?age[gte]=30&count=1")
    assert response.json() == {"class_name": "profile", "items_count": 3}
    response = _call(world["owner"], "POST", "/data/profile", {"age": 3})
    assert response.status_code == 201
    assert response.json()["user_id"] == owner.pk
    response = _call(world["owner"], "PUT", f"/data/profile/{mine}", {"inc": {"age": 2}})
    assert response.json()["age"] == 43


def test_a_request_the_lean_path_declines_is_answered_once(world, django_assert_num_queries):
    """A 404 goes to the view, which reads the session and the record again: nothing is
    written twice, and the answer is the view's. (The lean path reads both in one
    statement once the class is cached and the token was seen: config.lane.Fold.)"""
    _call(world["owner"], "GET", f"/data/profile/{world['mine']}")  # the class is cached
    with django_assert_num_queries(3):
        response = _call(world["owner"], "GET", "/data/profile/ffffffffffffffffffffffff")
    assert response.status_code == 404
    with django_assert_num_queries(1):
        response = _call(world["owner"], "GET", f"/data/profile/{world['mine']}")
    assert response.status_code == 200


BUSY = [  # the statements each sends once its token and class were seen
    ("GET", "/data/profile/{mine}", None, 1),  # the record read by the session's own
    ("GET", "/data/profile?age[gte]=30&sort_desc=age", None, 2),
    ("GET", "/data/profile?age[gte]=30&count=1", None, 2),
    ("POST", "/data/profile", {"age": 3}, 1),  # the session checked by the INSERT
    ("PUT", "/data/profile/{mine}", {"inc": {"age": 2}}, 1),  # and by the UPDATE
]


@pytest.mark.parametrize("method, path, body, statements", BUSY)
def test_the_busy_requests_send_the_session_statement_and_their_own_only(
    world, owner, method, path, body, statements
):
    """The session statement of these requests loads only what they read of the caller,
    and a list only the columns it shows: anything left out that were read after all
    would cost a statement more (Django loads a deferred column on first access)."""
    owner.tags = ["team"]  # read by the permission gate
    owner.save()
    path = path.format(**world)
    for _ in range(2):  # the token's application guessed, the class cached
        _call(world["owner"], method, path, body)
    with CaptureQueriesContext(connection) as queries:
        response = _call(world["owner"], method, path, body)
    assert response.status_code in (200, 201), response.content
    assert len(queries) == statements, [q["sql"][:120] for q in queries]
    if "sort_desc" in path:
        selected = queries[-1]["sql"].split(" FROM ")[0]
        assert '"data"' in selected and "read_ids" not in selected and "_access" not in selected
        assert [r["age"] for r in response.json()["items"]] == [50, 41, 30]


@pytest.mark.parametrize("lane", [True, False])
def test_an_integer_beyond_64_bits_keeps_every_digit(world, settings, lane):
    """A fast JSON reader would turn it into a float: it is stored, got and listed exact."""
    settings.LANE = lane
    big = 123456789012345678901234567890
    body = {"full_name": "big number", "tags": [big, -big, "x"]}
    created = _call(world["owner"], "POST", "/data/profile", body)
    assert created.status_code == 201
    assert created.json()["tags"] == [big, -big, "x"]
    record_id = created.json()["_id"]
    assert Record.objects.get(pk=record_id).data["tags"] == [big, -big, "x"]
    got = _call(world["owner"], "GET", f"/data/profile/{record_id}")
    assert got.json()["items"][0]["tags"] == [big, -big, "x"]
    listed = _call(world["owner"], "GET", "/data/profile?full_name=big%20number")
    assert listed.json()["items"][0]["tags"] == [big, -big, "x"]


def test_a_refused_create_writes_nothing_even_when_redone_by_the_view(world, profile):
    before = Record.objects.filter(object_class=profile).count()
    response = _call(world["owner"], "POST", "/data/profile", {"age": "seven"})
    assert response.status_code == 422
    assert Record.objects.filter(object_class=profile).count() == before


def test_a_deleted_session_is_refused_on_the_next_request(world):
    ApiSession.objects.all().delete()
    response = _call(world["owner"], "GET", f"/data/profile/{world['mine']}")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "CB-Token"


def test_the_lean_path_logs_and_counts_like_the_views(world, caplog):
    logger = logging.getLogger("cubebase.requests")  # does not propagate to the root
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            mine = world["mine"]
            headers = {"HTTP_X_REQUEST_ID": "abc-1"}
            response = _call(world["owner"], "GET", f"/data/profile/{mine}", headers=headers)
    finally:
        logger.removeHandler(caplog.handler)
    assert response["X-Request-ID"] == "abc-1"
    (line,) = [json.loads(r.getMessage()) for r in caplog.records if r.name == logger.name]
    assert line["request_id"] == "abc-1"
    assert line["route"] == "data/<str:class_name>/<str:ids>"
    assert line["status"] == 200
    assert line["application_id"] == world["application_id"]


# --- the production server (config/asgi.py asks the lean path before Django) -------------


def _live_answer(node, token, method, path, body=None, headers=None):
    sent = {"CB-Token": token, **(headers or {})}
    response = requests.request(method, node.url + path, json=body, headers=sent, timeout=10)
    skipped = {"x-request-id", "date", "server"}
    kept = {k.lower(): v for k, v in response.headers.items() if k.lower() not in skipped}
    return response.status_code, response.content, kept


@pytest.fixture
def live_world(transactional_db):
    from accounts.models import Application

    application = Application.objects.create(name="lane live")
    make_class(application, "profile", [("age", "integer"), ("name", "string")])
    owner = make_user(application, "owner")
    token = token_for(application, owner)
    return application, token


def test_the_production_server_answers_as_the_views_do(app_servers, live_world):
    application, token = live_world
    (lean,) = app_servers.start(n=1)
    (full,) = app_servers.start(n=1, env={"LANE": "0"})
    created = requests.post(
        lean.url + "/data/profile", json={"age": 1}, headers={"CB-Token": token}, timeout=10
    ).json()
    mine = created["_id"]
    reads = [
        ("GET", f"/data/profile/{mine}", None, None),
        ("GET", f"/data/profile/{mine}.json", None, {"Origin": "https://app.example"}),
        ("GET", "/data/profile?age[gte]=0&sort_desc=age", None, None),
        ("GET", "/data/profile?count=1", None, None),
        ("GET", "/data/profile/ffffffffffffffffffffffff", None, None),
        ("GET", "/data/profile?age[gt]=old", None, None),
        ("GET", "/data/profile?count=1", None, {"Host": "evil.example"}),  # 400
    ]
    for method, path, body, headers in reads:
        assert _live_answer(lean, token, method, path, body, headers) == _live_answer(
            full, token, method, path, body, headers
        ), path
    for node in (lean, full):
        status, content, headers = _live_answer(
            node, token, "PUT", f"/data/profile/{mine}", {"inc": {"age": 1}}
        )
        assert status == 200
    assert Record.objects.get(pk=mine).data["age"] == 3
    lean_write = _live_answer(lean, token, "POST", "/data/profile", {"age": 5, "name": "x"})
    full_write = _live_answer(full, token, "POST", "/data/profile", {"age": 5, "name": "x"})
    _same_write(lean_write, full_write)
    assert Record.objects.filter(data__name="x").count() == 2


def test_behind_https_the_lean_path_redirects_and_sends_hsts_as_django_does(
    app_servers, live_world
):
    application, token = live_world
    env = {"PUBLIC_URL": "https://cube.example", "ALLOWED_HOSTS": "127.0.0.1,localhost"}
    (lean,) = app_servers.start(n=1, env=env)
    (full,) = app_servers.start(n=1, env={**env, "LANE": "0"})
    path = "/data/profile?count=1"
    proxied = {"X-Forwarded-Proto": "https"}
    assert _live_answer(lean, token, "GET", path, headers=proxied) == _live_answer(
        full, token, "GET", path, headers=proxied
    )
    plain = requests.get(
        lean.url + path, headers={"CB-Token": token}, allow_redirects=False, timeout=10
    )
    assert plain.status_code == 301
    assert plain.headers["Location"].startswith("https://")
