"""The optional `.json` suffix: `/data/profile.json` is `/data/profile`.

Stripped from the path before URL resolution, so every route answers both ways and no
URL pattern has to know. The console and static files are left alone.
"""

_SKIP = ("/admin/", "/static/", "/console/")


class JsonSuffixMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if path.endswith(".json") and not path.startswith(_SKIP):
            request.path_info = path[: -len(".json")]
        return self.get_response(request)
