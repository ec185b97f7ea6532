"""The lean path: the API's busiest requests answered without Django's request and response
objects, its middleware chain, its URL resolver or DRF.

Under the production server a request to `/data` spent ~0.55 ms of CPU in that machinery
before any of our code ran (a whole `/health/live` costs that much), against ~0.4 ms for
Parse Server's entire answer to a get. So an app registers here the handful of requests
that make up most traffic (records.lane: get, list, count, create, update of records),
and this module answers them with the same functions the DRF views call:

- the same authentication (`accounts.authentication.session_and_version`: the session
  statement on every request; for a create or an update by a caller this process read
  before, the same check made by the write's own statement, see _caller), the same class
  cache, services, permission code and JSON renderer;
- the same checks and extras around the answer: the Host against ALLOWED_HOSTS, the
  redirect to HTTPS, the request id, the log line and the metrics (ops.middleware), CORS
  (config.api.middleware) and the security headers Django's middleware would add
  (tests/records/test_lane.py compares the answers, header by header).

It answers **only the plain, successful case**. Anything else is handed back, untouched, to
the full stack, which stays the reference for every answer: a request without a token, a
form or multipart body, a CB-AuthKey that does not match, an unknown class, a record that
is missing or forbidden, a bad value (every `ApiError`), a query string Django would read
differently. Handing back after an `ApiError` is safe because the services raise them
before they write, or inside a transaction that is rolled back (records.services: every
write is all or nothing); the full stack then redoes the work and answers the error.

Two entry points call `answer()`: the production ASGI handler (config/asgi.py), before it
builds a Django request, and `LaneMiddleware`, first in MIDDLEWARE, for the Django test
client, runserver and WSGI servers, so the whole test suite goes through this path.
`LANE=0` turns it off (everything then goes through DRF, as before).
"""

import dataclasses
import functools
import re
import time
import urllib.parse
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import connection

JSON = "application/json"
MAX_QUERY_FIELDS = 100  # more than any list request needs; a longer query goes the full way


def reads_body(content_type: str | None, size: int) -> bool:
    """Whether the lean path takes a request with this body: none, or JSON the API's parser
    would read (no larger than DATA_UPLOAD_MAX_MEMORY_SIZE). Both entry points ask before
    they read a body into memory."""
    if not size:
        return True
    media_type = (content_type or "").split(";")[0].strip().lower()
    return media_type == JSON and size <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE


class Decline(Exception):
    """Hand this request to the full stack."""


@dataclass
class LaneRequest:
    method: str
    path: str  # without the optional `.json` suffix
    query_string: str
    headers: dict  # lower-case names
    body: bytes
    client: str | None = None
    scheme: str = "http"
    _query: dict | None = field(default=None, repr=False)
    # the columns a route's Fold read in the session statement, once the session confirmed
    # the guess they were read on (None: nothing folded; the handler reads as usual)
    folded: tuple | None = field(default=None, repr=False)

    @property
    def secure(self) -> bool:
        proxy = settings.SECURE_PROXY_SSL_HEADER
        if proxy is not None:
            meta_name, expected = proxy
            given = self.headers.get(meta_name.removeprefix("HTTP_").lower().replace("_", "-"))
            if given is not None:
                return given.split(",")[0].strip() == expected
        return self.scheme == "https"

    def allowed_host(self) -> bool:
        """The Host check Django's CommonMiddleware makes (`request.get_host()`): a host
        not in ALLOWED_HOSTS goes the full way, to its 400."""
        host = None
        if settings.USE_X_FORWARDED_HOST:
            host = self.headers.get("x-forwarded-host")
        host = host or self.headers.get("host")
        if not host:
            return False
        allowed = settings.ALLOWED_HOSTS
        if settings.DEBUG and not allowed:
            allowed = [".localhost", "127.0.0.1", "[::1]"]
        return _host_allowed(host, tuple(allowed))

    def query(self) -> dict:
        """The query string as nested parameters (config.api.brackets), `token` left out;
        anything Django's QueryDict would read differently declines."""
        if self._query is None:
            from config.api.brackets import BracketSyntaxError, parse_pairs

            if not self.query_string.isascii():
                raise Decline  # Django decodes raw bytes its own way
            try:
                pairs = urllib.parse.parse_qsl(
                    self.query_string,
                    keep_blank_values=True,
                    errors="strict",
                    max_num_fields=MAX_QUERY_FIELDS,
                )
                nested = parse_pairs(pairs)
            except (ValueError, BracketSyntaxError):
                raise Decline from None
            nested.pop("token", None)
            self._query = nested
        return self._query

    def acceptable(self) -> bool:
        """Whether DRF would answer this Accept header with plain JSON, as here (no indent,
        no 406)."""
        accept = self.headers.get("accept")
        if not accept:
            return True
        if "indent" in accept:
            return False
        ranges = {part.split(";")[0].strip().lower() for part in accept.split(",")}
        return bool(ranges & {"*/*", "application/*", JSON})

    def json_object(self) -> dict:
        """The body as a JSON object, read as the API's JSON parser reads it."""
        from config.api.parsers import _too_deep
        from config.jsontext import loads

        if not self.body or not reads_body(self.headers.get("content-type"), len(self.body)):
            raise Decline
        try:
            value = loads(self.body)
        except ValueError:
            raise Decline from None
        if not isinstance(value, dict) or _too_deep(value):
            raise Decline
        value.pop("token", None)
        return value


@dataclass(frozen=True)
class Fold:
    """A row a route reads in the session's own statement (one statement for the whole
    request instead of two): columns and joins added to it (accounts.selectors
    .session_with), with the parameters of the joins. It is written on a guess, the
    application and schema version this token's session had last time, and its row is
    handed to the route only when the session statement confirms both."""

    columns: str
    joins: str
    params: list
    application_id: int
    schema_version: int


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern
    handler: object  # (request, caller, **groups) -> (status, body)
    label: str  # the Django route, for the metrics and the log line
    allow: str  # the Allow header DRF sends for the view
    user_session: bool  # writes need a logged-in user
    fold: object = None  # (request, groups, application id) -> Fold or None
    guarded: bool = False  # may act for a known caller through guarded statements


_routes: list[Route] = []


def route(
    method: str,
    pattern: str,
    *,
    label: str,
    allow: str,
    user_session: bool = False,
    fold=None,
    guarded: bool = False,
):
    """Register a handler for `method` and a full-path regex with named groups. A `guarded`
    handler may be given a caller with a guard (see _caller) and must then act only
    through statements that carry it, or raise accounts.caller.Unconfirmed."""

    def register(handler):
        _routes.append(
            Route(method, re.compile(pattern), handler, label, allow, user_session, fold, guarded)
        )
        return handler

    return register


def find(method: str, path: str):
    """(route, groups) for a request the lean path may answer, else None. Cheap: no I/O."""
    if not settings.LANE or "\x00" in path:  # a NUL is config.api.middleware's 404
        return None
    if settings.DISALLOWED_USER_AGENTS:  # CommonMiddleware's check, not made here
        return None
    path = path.removesuffix(".json")
    for candidate in _routes:
        if candidate.method == method:
            match = candidate.pattern.fullmatch(path)
            if match is not None:
                return candidate, match.groupdict()
    return None


@functools.lru_cache(maxsize=256)
def _host_allowed(host: str, allowed: tuple) -> bool:
    """Django's Host check of one Host header against ALLOWED_HOSTS (remembered: a client
    sends the same one on every request)."""
    from django.http.request import split_domain_port, validate_host

    domain, _ = split_domain_port(host)
    return bool(domain) and validate_host(domain, allowed)


@dataclass
class LaneResponse:
    status: int
    headers: list  # [(name, value)] as str
    body: bytes


def answer(request: LaneRequest, found) -> LaneResponse | None:
    """The answer to `request` (matched by `find`), or None: the full stack answers it.
    Runs where Django views run (a thread that may use the database)."""
    from accounts.caller import Unconfirmed
    from config.api.errors import ApiError
    from ops import metrics
    from ops.middleware import request_id

    the_route, groups = found
    if settings.SECURE_SSL_REDIRECT and not request.secure:
        return None  # Django's SecurityMiddleware redirects it
    if not (request.acceptable() and request.allowed_host()):
        return None
    began = time.perf_counter()
    timer = metrics.DatabaseTimer()
    caller = None
    try:
        with connection.execute_wrapper(timer):
            caller = _caller(request, the_route, groups)
            try:
                status, data = the_route.handler(request, caller, **groups)
            except (Unconfirmed, ApiError):
                if caller.guard is None:
                    raise
                # a guarded caller's statement wrote nothing, or an error came of what was
                # read before: read the session now, and do it again
                caller = _caller(request, the_route, groups, reuse=False)
                status, data = the_route.handler(request, caller, **groups)
    except Decline:
        return None
    except Exception as exc:  # noqa: BLE001 - mapped as the API's error handler maps it
        from config.api.errors import mapped_error

        if isinstance(exc, ApiError):
            return None
        status, data = mapped_error(exc, where=the_route.label)
    rid = request_id(request.headers.get("x-request-id", ""))
    body = _render(data)
    response = LaneResponse(status, _headers(request, the_route, rid, len(body)), body)
    from ops.middleware import finished

    finished(
        request.method,
        request.path,
        the_route.label,
        status,
        time.perf_counter() - began,
        timer.seconds,
        request_id=rid,
        application_id=caller.application.pk if caller is not None else None,
        client=request.client,
    )
    return response


# token hash -> the application its session had when last read here: the guess a Fold is
# written on (a wrong or stale guess costs nothing but the fold: see _caller)
_applications: dict[str, int] = {}
# token hash -> the caller of its user session when a guarded route last read it here, with
# the guard that the session is still as read: what a guarded route acts for next time
_callers: dict[str, object] = {}
MAX_GUESSES = 10_000  # past it the guesses start over
_fold_statements: dict[tuple[str, str], str] = {}


def _caller(request: LaneRequest, the_route: Route, groups: dict, *, reuse: bool = True):
    """The caller of the request's session, read by the session statement, as the views
    read it. A route with a Fold has its row read by that same statement, and gets it
    (request.folded) only if the session's application and schema version are the ones
    the Fold was written for.

    A guarded route (a create, an update) is given, when this process has read
    the token's user session before and that read needs no upkeep now (not expired, not
    due its touch), the caller built then, with a guard: the condition that the session
    is still exactly as read (accounts.selectors.session_guard). Its one statement
    carries the condition, so the session is checked in the same statement that writes:
    a session deleted on any node, a user retagged or a schema changed since, and it
    writes nothing, raises Unconfirmed, and the request is done again after this function
    reads the session (`reuse=False`); so is one that ends in an error (a 403 may be of
    tags since given)."""
    from accounts.authentication import live_session, same_application, taken_as_read
    from accounts.caller import Caller
    from accounts.models import hash_token
    from accounts.selectors import (
        session_by_token_hash,
        session_guard,
        session_sql_with,
        session_with,
    )

    token = request.headers.get("cb-token") or _query_token(request)
    if not token:
        raise Decline
    token_hash = hash_token(token)
    if reuse and the_route.guarded and "cb-authkey" not in request.headers:
        known = _callers.get(token_hash)
        if known is not None and taken_as_read(known.session):
            return known
    guess = _applications.get(token_hash)
    fold = None
    if the_route.fold is not None and guess is not None:
        fold = the_route.fold(request, groups, guess)
    if fold is None:  # lean: only the caller's columns these requests read
        found, extra = session_by_token_hash(token_hash, lean=True), None
    else:
        key = (fold.columns, fold.joins)
        if key not in _fold_statements:
            _fold_statements[key] = session_sql_with(fold.columns, fold.joins, lean=True)
        found, extra = session_with(token_hash, _fold_statements[key], fold.params, lean=True)
    found = live_session(found)
    if found is None or not same_application(request.headers.get("cb-authkey"), found[0]):
        _callers.pop(token_hash, None)
        raise Decline
    session, version = found
    if len(_applications) >= MAX_GUESSES:
        _applications.clear()
    _applications[token_hash] = session.application_id
    if fold is not None and (session.application_id, version) == (
        fold.application_id,
        fold.schema_version,
    ):
        request.folded = extra
    caller = Caller.for_session(session, schema_version=version)
    if the_route.guarded and caller.is_user:
        if len(_callers) >= MAX_GUESSES:
            _callers.clear()
        guard = session_guard(token_hash, session, version)
        _callers[token_hash] = dataclasses.replace(caller, guard=guard)
    if the_route.user_session and not caller.is_user:
        raise Decline
    return caller


def _query_token(request: LaneRequest) -> str | None:
    if "token" not in request.query_string:
        return None
    values = urllib.parse.parse_qs(request.query_string).get("token")
    return values[-1] if values else None


def _render(data) -> bytes:
    from config.api.renderers import FastJSONRenderer

    return FastJSONRenderer().render(data)


def _headers(request: LaneRequest, the_route: Route, rid: str, length: int) -> list:
    """What Django's and DRF's layers put on a JSON answer of this view."""
    headers = [("Content-Type", JSON), ("Allow", the_route.allow)]
    if settings.X_FRAME_OPTIONS:
        headers.append(("X-Frame-Options", settings.X_FRAME_OPTIONS))
    headers.append(("Content-Length", str(length)))
    if request.secure and settings.SECURE_HSTS_SECONDS:
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            value += "; preload"
        headers.append(("Strict-Transport-Security", value))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        policy = settings.SECURE_REFERRER_POLICY
        if not isinstance(policy, str):
            policy = ",".join(policy)
        headers.append(("Referrer-Policy", policy))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    if "origin" in request.headers:
        headers.append(("Access-Control-Allow-Origin", "*"))
        headers.append(("Access-Control-Expose-Headers", "Location, X-Request-ID"))
    headers.append(("X-Request-ID", rid))
    return headers


class LaneMiddleware:
    """The lean path for requests that reach Django (the test client, runserver, a WSGI
    server). The production ASGI handler asks the lean path itself before it builds a
    Django request, and marks the requests it handed on so they are not asked twice."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        scope = getattr(request, "scope", None)
        if scope is None or not scope.get("lane_asked"):
            found = find(request.method, request.path_info)
            lean = _from_django(request) if found is not None else None
            if lean is not None:
                response = answer(lean, found)
                if response is not None:
                    return _to_django(response)
        return self.get_response(request)


def _from_django(request) -> LaneRequest | None:
    """The request as the lean path reads it; None for a body it would not read (so a large
    or streamed body is never pulled into memory here)."""
    meta = request.META
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
        return None
    if not reads_body(meta.get("CONTENT_TYPE"), length):
        return None
    headers = {name.lower(): value for name, value in request.headers.items()}
    try:
        headers["host"] = request.get_host()  # a Host header, or SERVER_NAME and port
    except DisallowedHost:
        return None
    return LaneRequest(
        method=request.method,
        path=request.path_info.removesuffix(".json"),
        query_string=meta.get("QUERY_STRING", ""),
        headers=headers,
        body=request.body if length else b"",
        client=meta.get("REMOTE_ADDR"),
        scheme=request.scheme,
    )


def _to_django(response: LaneResponse):
    from django.http import HttpResponse

    out = HttpResponse(response.body, status=response.status)
    for name, value in response.headers:
        if name != "Content-Length":
            out[name] = value
    out["Content-Length"] = str(len(response.body))
    return out
