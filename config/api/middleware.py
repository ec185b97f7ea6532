"""Middleware of the API paths: the optional `.json` suffix, CORS for browser clients, and
chunked request bodies.

The console, its static files and the API docs pages are left alone by both.
"""

import tempfile

from django.http import HttpResponse

_SKIP = ("/admin/", "/static/", "/console/", "/api/schema/", "/api/docs/")


def _is_api(path: str) -> bool:
    return not path.startswith(_SKIP)


class JsonSuffixMiddleware:
    """`/data/profile.json` is `/data/profile`: the suffix is stripped before URL resolution,
    so every route answers both ways and no URL pattern has to know."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if "\x00" in path and _is_api(path):  # no class, record or blob is named with a NUL
            from config.api.errors import json_error

            return json_error(404, "Not found")
        if path.endswith(".json") and _is_api(path):
            request.path_info = path[: -len(".json")]
        return self.get_response(request)


class CorsMiddleware:
    """Lets a web app on any origin call the API, as it calls ConnectyCube's.

    Any origin is safe to allow: the API authenticates by the CB-Token header (or `token`
    parameter), never by cookies, so a page cannot act with credentials it was not given.
    A preflight is answered here, before authentication, since browsers send it without
    the token."""

    ALLOW_METHODS = "GET, POST, PUT, DELETE, OPTIONS"
    ALLOW_HEADERS = "CB-Token, CB-AuthKey, CB-SDK, Content-Type"
    MAX_AGE = "86400"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not _is_api(request.path_info) or "HTTP_ORIGIN" not in request.META:
            return self.get_response(request)
        if request.method == "OPTIONS" and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in request.META:
            response = HttpResponse(status=204)
            response["Access-Control-Allow-Methods"] = self.ALLOW_METHODS
            response["Access-Control-Allow-Headers"] = request.META.get(
                "HTTP_ACCESS_CONTROL_REQUEST_HEADERS", self.ALLOW_HEADERS
            )
            response["Access-Control-Max-Age"] = self.MAX_AGE
        else:
            response = self.get_response(request)
        response["Access-Control-Allow-Origin"] = "*"
        response["Access-Control-Expose-Headers"] = "Location"
        return response


class ChunkedBodyMiddleware:
    """A body sent with `Transfer-Encoding: chunked` has no Content-Length, and Django's
    and DRF's parsers read a body without one as empty: the request would succeed with
    every field missing. So such a body gets its length here, or the request is refused.

    - Under ASGI the server has already de-chunked the body into a file: measure it.
    - Under a WSGI server that de-chunks (it sets `wsgi.input_terminated`, as gunicorn
      does), read it into a spooled file, at most MAX_BODY_BYTES.
    - Otherwise (a WSGI server that passes chunks through) answer 411 Length Required."""

    MAX_BODY_BYTES = 101 * 1024 * 1024  # the largest upload (100 MB) and its form around it

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        meta = request.META
        if "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower() and not meta.get(
            "CONTENT_LENGTH"
        ):
            refusal = self._measure(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    def _measure(self, request):
        from config.api.errors import json_error

        stream = getattr(request, "_stream", None)
        wsgi_input = request.META.get("wsgi.input")
        if wsgi_input is not None:
            if not request.META.get("wsgi.input_terminated"):
                return json_error(411, "send a Content-Length: chunked bodies are not read here")
            stream = self._spool(wsgi_input)
            if stream is None:
                return json_error(413, "request body is too large")
        elif not (hasattr(stream, "seek") and hasattr(stream, "tell")):
            return json_error(411, "send a Content-Length: chunked bodies are not read here")
        stream.seek(0, 2)
        length = stream.tell()
        stream.seek(0)
        if length > self.MAX_BODY_BYTES:
            return json_error(413, "request body is too large")
        request._stream = stream
        request.META["CONTENT_LENGTH"] = str(length)
        return None

    def _spool(self, source):
        spool = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)
        size = 0
        while chunk := source.read(64 * 1024):
            size += len(chunk)
            if size > self.MAX_BODY_BYTES:
                spool.close()
                return None
            spool.write(chunk)
        return spool
