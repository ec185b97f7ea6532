"""The request layer every endpoint shares (config/api/): the `.json` suffix, bracket
notation, and JSON errors for anything malformed (API.md §1)."""

import json
import re
from urllib.parse import urlencode

import pytest
from django.http import QueryDict
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from config.api.brackets import MAX_DEPTH, BracketSyntaxError, encode, parse_pairs
from config.api.parsers import nest
from tests.conftest import Api

# Routes that are not the API: the console, the OpenAPI pages, static files, the home redirect.
NOT_API = ("admin/", "api/", "static/", "")

SAMPLES = {"int": "1", "str": "thing", "slug": "thing", "path": "thing", "uuid": None}


def _walk(patterns, prefix=""):
    """Every URL pattern as (route text, pattern), includes flattened."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + _text(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + _text(entry.pattern), entry.pattern


def _text(pattern) -> str:
    if isinstance(pattern, RoutePattern):
        return str(pattern._route)
    assert isinstance(pattern, RegexPattern)
    return pattern._regex.lstrip("^").rstrip("$")


def _is_api(route: str) -> bool:
    return route != "" and not route.startswith(NOT_API[:3])


def _concrete(route: str, user_id: int) -> str:
    """A path that the route matches, with sample values for its parameters."""

    def sample(match):
        converter, name = match.group(1) or "str", match.group(2)
        if name.endswith("user_id") and converter == "int":
            return str(user_id)
        return SAMPLES[converter]

    path = re.sub(r"<(?:(\w+):)?(\w+)>", sample, route)
    path = re.sub(r"\(\?P<\w+>[^)]*\)", "thing", path)  # a regex route: try a word
    return "/" + path


def api_routes() -> list[str]:
    routes = [route for route, _ in _walk(get_resolver().url_patterns)]
    return sorted({r for r in routes if _is_api(r)})


def test_the_walk_finds_the_account_routes():
    routes = api_routes()
    for route in ("session", "login", "users", "users/<int:user_id>"):
        assert route in routes


@pytest.mark.django_db
@pytest.mark.parametrize("route", api_routes())
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_every_route_answers_the_same_with_json_suffix(route, method, api_for, owner):
    api = api_for(owner)
    path = _concrete(route, owner.pk)
    plain = api.request(method, path, {} if method == "POST" else None)
    suffixed = api.request(method, path + ".json", {} if method == "POST" else None)
    assert plain[0] == suffixed[0], f"{method} {path}: {plain} vs {suffixed}"
    assert plain[0] < 500
    if isinstance(plain[1], dict) and "errors" in plain[1]:
        assert plain[1] == suffixed[1]


@pytest.mark.django_db
def test_json_suffix_on_a_route_with_parameters(owner_api, owner):
    status, body = owner_api.get(f"/users/{owner.pk}.json")
    assert status == 200
    assert body["user"]["id"] == owner.pk


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/no-such-thing", "/no-such-thing.json", "/users/abc"])
def test_unknown_path_is_a_json_404(path):
    response = Api().client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert list(response.json()) == ["errors"]


# Bracket notation: parse_pairs is the inverse of encode for any nesting of dicts and
# non-empty lists of strings.

_names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="[]"),
    min_size=1,
    max_size=8,
)
_values = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=10)
_trees = st.recursive(
    _values | st.lists(_values, min_size=1, max_size=4),
    lambda inner: st.dictionaries(_names, inner, min_size=1, max_size=4),
    max_leaves=20,
)
_documents = st.dictionaries(_names, _trees, max_size=5)


@given(_documents)
def test_brackets_round_trip(document):
    assert parse_pairs(encode(document)) == document


@given(_documents)
def test_brackets_round_trip_through_a_query_string(document):
    query = QueryDict(urlencode(encode(document)))
    assert nest(query) == document


def test_brackets_examples():
    pairs = [
        ("permissions[read][access]", "owner"),
        ("permissions[update][ids]", "51941,51943"),
        ("a[]", "1"),
        ("a[]", "2"),
        ("record[1][id]", "x"),
        ("plain", "v"),
    ]
    assert parse_pairs(pairs) == {
        "permissions": {"read": {"access": "owner"}, "update": {"ids": "51941,51943"}},
        "a": ["1", "2"],
        "record": {"1": {"id": "x"}},
        "plain": "v",
    }


@pytest.mark.parametrize(
    "pairs",
    [
        [("a[b", "1")],
        [("a]", "1")],
        [("[a]", "1")],
        [("a[b]c", "1")],
        [("a[][b]", "1")],
        [("a[b]]", "1")],
        [("a[[b]]", "1")],
        [("a", "1"), ("a[b]", "2")],
        [("a[b]", "1"), ("a", "2")],
        [("a[]", "1"), ("a[b]", "2")],
        [("a[b]", "1"), ("a[]", "2")],
        [("a[b]", "1"), ("a[b][c]", "2")],
    ],
)
def test_malformed_brackets_are_refused(pairs):
    with pytest.raises(BracketSyntaxError):
        parse_pairs(pairs)


# Malformed requests are JSON 4xx, never a 500.


def _raw(api, method, path, body, content_type, **headers):
    call = getattr(api.client, method.lower())
    response = call(path, body, content_type=content_type, HTTP_CB_TOKEN=api.token, **headers)
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    return response.status_code, response.json()


def _credentials(application):
    return {"application_id": application.pk, "auth_key": application.auth_key}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        '{"application_id": ',
        "{'single': 'quotes'}",
        '{"a": NaN}',
        "[" * 50_000,
        b'{"a": "\xff\xfe"}',
    ],
)
def test_bad_json_is_400(app_api, body):
    status, response = _raw(app_api, "POST", "/users", body, "application/json")
    assert status == 400
    assert list(response) == ["errors"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/session", "/users", "/login"])
@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "42", "null"])
def test_json_body_that_is_not_an_object_is_400(app_api, path, body):
    status, response = _raw(app_api, "POST", path, body, "application/json")
    assert status == 400
    assert list(response) == ["errors"]


@pytest.mark.django_db
def test_bad_brackets_in_the_query_string_are_400(app_api):
    status, body = app_api.get("/session", {"a[b": "1"})
    assert status == 400
    assert list(body) == ["errors"]


@pytest.mark.django_db
def test_bad_brackets_in_a_form_body_are_400(app_api):
    status, body = _raw(
        app_api,
        "POST",
        "/users",
        "user[login=x&user[password]=y",
        "application/x-www-form-urlencoded",
    )
    assert status == 400
    assert "malformed" in body["errors"]["base"][0]


@pytest.mark.django_db
def test_bad_brackets_in_a_multipart_body_are_400(app_api):
    response = app_api.client.post(
        "/users", {"user[login": "x"}, format="multipart", HTTP_CB_TOKEN=app_api.token
    )
    assert response.status_code == 400
    assert list(response.json()) == ["errors"]


@pytest.mark.django_db
def test_multipart_without_boundary_is_400(app_api):
    status, body = _raw(app_api, "POST", "/users", b"--nope\r\ngarbage", "multipart/form-data")
    assert status == 400
    assert list(body) == ["errors"]


@pytest.mark.django_db
@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "image/png"])
def test_unsupported_content_type_is_415(app_api, content_type):
    status, body = _raw(app_api, "POST", "/users", "user=x", content_type)
    assert status == 415
    assert list(body) == ["errors"]


@pytest.fixture
def small_bodies(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000
    return settings


@pytest.mark.django_db
def test_huge_json_body_is_413(app_api, small_bodies):
    body = json.dumps({"user": {"login": "dana", "full_name": "x" * 5_000}})
    status, response = _raw(app_api, "POST", "/users", body, "application/json")
    assert status == 413
    assert list(response) == ["errors"]


@pytest.mark.django_db
def test_huge_form_body_is_413(app_api, small_bodies):
    body = "user[login]=dana&user[full_name]=" + "x" * 5_000
    status, _ = _raw(app_api, "POST", "/users", body, "application/x-www-form-urlencoded")
    assert status == 413


@pytest.mark.django_db
def test_huge_multipart_field_is_413(app_api, small_bodies):
    response = app_api.client.post(
        "/users",
        {"user[login]": "dana", "user[full_name]": "x" * 5_000},
        format="multipart",
        HTTP_CB_TOKEN=app_api.token,
    )
    assert response.status_code == 413
    assert list(response.json()) == ["errors"]


@pytest.mark.django_db
def test_huge_session_request_is_413_before_any_session(application, small_bodies):
    body = json.dumps({**_credentials(application), "pad": "x" * 5_000})
    status, _ = _raw(Api(), "POST", "/session", body, "application/json")
    assert status == 413


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload",
    [
        {"application_id": {"$gt": 0}, "auth_key": "x"},
        {"application_id": [1], "auth_key": ["x"]},
        {"application_id": 1, "auth_key": None, "user": {"login": {"a": 1}, "password": 5}},
        {"application_id": 1, "auth_key": "x", "user": {"login": "a\x00b", "password": "p"}},
        {"application_id": 1, "auth_key": "x", "signature": "abc", "timestamp": "soon"},
        {"application_id": 10**30, "auth_key": "x"},
    ],
)
def test_odd_session_parameters_are_401_not_500(application, payload):
    if payload.get("application_id") == 1:
        payload = {**payload, "application_id": application.pk}
    status, body = Api().post("/session", payload)
    assert status == 401
    assert body == {"errors": {"base": ["Unauthorized"]}}


@pytest.mark.django_db
def test_nul_byte_in_a_login_is_an_error_not_a_500(app_api):
    status, body = app_api.post(
        "/users", {"user": {"login": "da\x00na", "password": "long-enough-pw"}}
    )
    assert 400 <= status < 500
    assert list(body) == ["errors"]


# Whatever JSON a client sends to the account endpoints, the answer is a JSON 2xx or 4xx.

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=10,
)
_account_keys = st.sampled_from(
    [
        "application_id",
        "auth_key",
        "user",
        "login",
        "email",
        "password",
        "old_password",
        "full_name",
        "tags",
        "signature",
        "timestamp",
        "nonce",
    ]
)
_bodies = st.dictionaries(_account_keys, _json | st.dictionaries(_account_keys, _json), max_size=5)


@pytest.mark.django_db
@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=_bodies,
    method_path=st.sampled_from(
        [("POST", "/session"), ("POST", "/login"), ("POST", "/users"), ("PUT", "/users/{id}")]
    ),
)
def test_any_json_to_the_account_endpoints_is_answered_without_a_500(
    owner_api, owner, body, method_path
):
    method, path = method_path
    status, answer = owner_api.request(method, path.format(id=owner.pk), body)
    assert status < 500
    if status >= 400:
        assert list(answer) == ["errors"]


_query_names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), whitelist_characters="[]"), max_size=12
)


@pytest.mark.django_db
@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pairs=st.lists(st.tuples(_query_names, st.text(max_size=10)), max_size=5))
def test_any_query_string_is_answered_without_a_500(owner_api, pairs):
    response = owner_api.client.get("/session?" + urlencode(pairs), HTTP_CB_TOKEN=owner_api.token)
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert list(response.json()) == ["errors"]


# CORS: a web app on another origin can call the API with its token.

ORIGIN = {"HTTP_ORIGIN": "https://app.example.com"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/session.json", "/data/profile.json", "/blobs/upload"])
def test_preflight_is_answered_without_a_token(path):
    response = Api().client.options(
        path,
        **ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="cb-token,content-type",
    )
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "cb-token" in response["Access-Control-Allow-Headers"].lower()


@pytest.mark.django_db
def test_api_answers_carry_the_cors_header(app_api):
    response = app_api.client.get("/session.json", HTTP_CB_TOKEN=app_api.token, **ORIGIN)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    # Errors too, so the page can read the 401 and open a new session.
    response = Api().client.get("/session.json", **ORIGIN)
    assert response.status_code == 401
    assert response["Access-Control-Allow-Origin"] == "*"


@pytest.mark.django_db
def test_console_has_no_cors_header():
    response = Api().client.get("/admin/login/", **ORIGIN)
    assert "Access-Control-Allow-Origin" not in response


# Nesting is capped, so no code walking a parameter recursively can run out of stack.


def _nested(depth):
    value = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.django_db
def test_json_nested_too_deep_is_400(app_api):
    status, body = _raw(app_api, "POST", "/users", json.dumps(_nested(200)), "application/json")
    assert status == 400
    assert "nested deeper" in body["errors"]["base"][0]


@pytest.mark.django_db
def test_json_nested_within_the_cap_is_read(app_api):
    body = {"user": {"login": "dana", "password": "long-enough-pw", "full_name": "D"}}
    body["deep"] = _nested(MAX_DEPTH - 1)
    status, _ = app_api.post("/users", body)
    assert status == 201


def test_brackets_nested_too_deep_are_refused():
    assert parse_pairs([("a" + "[b]" * MAX_DEPTH, "1")])
    with pytest.raises(BracketSyntaxError):
        parse_pairs([("a" + "[b]" * (MAX_DEPTH + 1), "1")])


@pytest.mark.django_db
def test_query_nested_too_deep_is_400(app_api):
    status, body = app_api.get("/session", {"a" + "[b]" * 500: "1"})
    assert status == 400
    assert list(body) == ["errors"]


@pytest.mark.django_db
def test_console_errors_stay_html_pages(admin_client):
    response = admin_client.get("/admin/no/such/page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
