"""The OpenAPI schema (/api/schema/) and its Swagger UI (/api/docs/), all served locally."""

import json
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db


class _References(HTMLParser):
    """Every URL the page loads: script src, link href, img src."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("src", "href"):
            if attrs.get(name) and tag in ("script", "link", "img"):
                self.urls.append(attrs[name])


def test_docs_page_loads_only_local_assets():
    client = Client()
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    parser = _References()
    parser.feed(html)
    assert len(parser.urls) >= 3  # the stylesheet, the two scripts (and the icon)
    for url in parser.urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"{url} is on another host"
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert b"".join(asset.streaming_content) if asset.streaming else asset.content
    # The inline script fetches the schema from this server and calls no outside validator.
    assert not re.search(r"https?://", html), "the page names another host"
    assert '"validatorUrl": null' in html


def test_docs_assets_are_served_without_debug(settings):
    settings.DEBUG = False
    response = Client().get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css")
    assert response.status_code == 200


def test_missing_static_file_is_a_json_404():
    response = Client().get("/static/no/such/file.js")
    assert response.status_code == 404
    assert list(response.json()) == ["errors"]


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return json.loads(response.content)


def test_schema_is_valid_openapi(schema):
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")


def test_schema_documents_the_account_endpoints(schema):
    paths = schema["paths"]
    for path, methods in {
        "/session": ("get", "post", "delete"),
        "/login": ("post", "delete"),
        "/users": ("post", "get"),
        "/users/{user_id}": ("get", "put", "delete"),
        "/users/v2": ("get",),
        "/users/online": ("get",),
        "/users/password/reset": ("post",),
        "/users/by_login": ("get",),
        "/users/by_tags": ("get",),
        "/users/external/{external_id}": ("get", "delete"),
    }.items():
        assert path in paths, path
        for method in methods:
            operation = paths[path][method]
            assert operation["summary"], (path, method)
            assert "400" in operation["responses"]


def test_session_creation_has_examples_and_needs_no_token(schema):
    post = schema["paths"]["/session"]["post"]
    example = post["requestBody"]["content"]["application/json"]["examples"]
    assert any("auth_key" in e["value"] for e in example.values())
    created = post["responses"]["201"]["content"]["application/json"]["examples"]
    assert any("session" in e["value"] for e in created.values())
    assert post.get("security") in (None, [], [{}])


def test_token_scheme_is_the_cb_token_header(schema):
    scheme = schema["components"]["securitySchemes"]["CBToken"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "CB-Token"}
    assert {"CBToken": []} in schema["paths"]["/session"]["get"]["security"]
    unauthorized = schema["paths"]["/session"]["get"]["responses"]["401"]
    example = next(iter(unauthorized["content"]["application/json"]["examples"].values()))
    assert example["value"] == {"errors": {"base": ["Required session does not exist"]}}


def _drf_routes(patterns, prefix=""):
    """Route text of every URL served by a DRF view, includes flattened."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _drf_routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern) and hasattr(entry.callback, "cls"):
            yield prefix + str(entry.pattern)


def test_every_api_view_is_in_the_schema(schema):
    """Views added later are listed too, documented or not (config.api.schema.ApiAutoSchema)."""
    routes = [r for r in _drf_routes(get_resolver().url_patterns) if not r.startswith("api/")]
    assert "session" in routes
    for route in routes:
        path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        assert path in schema["paths"], path
        for method, operation in schema["paths"][path].items():
            assert operation["responses"], (path, method)
            if method in ("post", "put"):
                assert "requestBody" in operation, (path, method)
