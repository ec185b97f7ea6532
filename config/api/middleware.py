"""Middleware of the API paths: the optional `.json` suffix, and CORS for browser clients.

The console, its static files and the API docs pages are left alone by both.
"""

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
