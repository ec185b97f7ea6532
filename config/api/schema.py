"""OpenAPI documentation for the API views (served at /api/schema/ and /api/docs/).

The views take and answer plain JSON rather than DRF serializers, so a view documents itself
with examples: one decorator per handler method.

    @api_doc(
        "Create a record",
        tags=["records"],
        request={"name": "Dana", "age": 41},
        responses={201: {"_id": "5f5a...", "name": "Dana", "age": 41}},
        errors=(403, 404, 422),
    )
    def post(self, request, class_name): ...

Every documented operation also lists the errors it can answer, each with the common
`{"errors": {...}}` body, and needs the `CB-Token` header unless `auth=False`.
"""

from http import HTTPStatus

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema

from config.api.errors import NO_SESSION

ERROR_EXAMPLES = {
    400: ("Malformed request", {"errors": {"base": ["JSON parse error: ..."]}}),
    401: ("No, unknown or expired session", {"errors": {"base": [NO_SESSION]}}),
    403: ("Not permitted", {"errors": {"base": ["You don't have appropriate permissions"]}}),
    404: ("Not found", {"errors": {"base": ["Not found"]}}),
    413: ("Body or file over its limit", {"errors": {"base": ["request body is too large"]}}),
    415: ("Unsupported Content-Type", {"errors": {"base": ['Unsupported media type "..."']}}),
    422: ("Validation failed", {"errors": {"field": ["is invalid"]}}),
}


def api_doc(
    summary: str,
    *,
    tags: list[str],
    request: dict | None = None,
    responses: dict[int, dict | None],
    errors: tuple[int, ...] = (),
    auth: bool = True,
    description: str = "",
    parameters: list[OpenApiParameter] | None = None,
    operation_id: str | None = None,
):
    """extend_schema for a handler method, from example bodies.

    `responses` maps a status to an example body (None: an empty body). `errors` lists the
    error statuses beyond 400 (always possible) and 401 (added when `auth`). `operation_id`
    overrides the generated one: a GET of a collection beside a GET of one of its items
    (`/blobs`, `/blobs/{id}`) would otherwise both be `<path>_retrieve`."""
    documented = {}
    for status, example in responses.items():
        documented[status] = _response(HTTPStatus(status).phrase, example)
    for status in sorted({400, *errors, *((401,) if auth else ())}):
        title, body = ERROR_EXAMPLES[status]
        documented[status] = _response(title, body)
    return extend_schema(
        summary=summary,
        description=description,
        tags=tags,
        request=OpenApiTypes.OBJECT if request is not None else None,
        examples=[OpenApiExample("request", value=request, request_only=True)] if request else [],
        responses=documented,
        auth=None if auth else [],
        parameters=parameters,
        operation_id=operation_id,
    )


def _response(description: str, example) -> OpenApiResponse:
    if example is None:
        return OpenApiResponse(description=f"{description} (empty body)")
    return OpenApiResponse(
        response=OpenApiTypes.OBJECT,
        description=description,
        examples=[OpenApiExample(description, value=example)],
    )


class ApiAutoSchema(AutoSchema):
    """The schema class of every view (REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]).

    The API's views read and answer plain JSON without DRF serializers. One that is not
    (yet) documented with `api_doc` is listed with a generic JSON object for its body and
    answer, rather than left without either and reported as an error."""

    def _plain_json(self) -> bool:
        names = ("get_serializer", "get_serializer_class", "serializer_class")
        return not any(hasattr(self.view, name) for name in names)

    def get_request_serializer(self):
        return OpenApiTypes.OBJECT if self._plain_json() else super().get_request_serializer()

    def get_response_serializers(self):
        return OpenApiTypes.OBJECT if self._plain_json() else super().get_response_serializers()


class CBTokenScheme(OpenApiAuthenticationExtension):
    """How /api/docs/ shows the CB-Token header (the `?token=` query parameter works too)."""

    target_class = "accounts.authentication.CBTokenAuthentication"
    name = "CBToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "CB-Token",
            "description": "The `token` of a session from POST /session.",
        }


# --- the whole document -------------------------------------------------------------------

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "errors": {
            "type": "object",
            "additionalProperties": {"oneOf": [{"type": "array"}, {"type": "object"}]},
        }
    },
    "required": ["errors"],
}
# Answers any operation can give whatever it does: a malformed or oversized body, a missing
# session, a collision retried too often, a throttled client, an unsupported body type.
COMMON_ERRORS = {
    400: "Malformed request",
    401: "No, unknown or expired session",
    403: "Not permitted",
    404: "Not found",
    409: "Collided with a concurrent request; retry",
    411: "A chunked body the server cannot read",
    413: "Body or file over its limit",
    415: "Unsupported Content-Type",
    422: "Validation failed",
    429: "Too many attempts",
}
# Operations whose success has no JSON body in some cases: their answer is not described.
_BODY_VARIES = {("/data/{class_name}/{ids}", "delete")}


def complete_error_responses(result, generator, request, public):
    """POSTPROCESSING_HOOKS: every operation lists every error status with the errors body,
    so a client (or a fuzzer) can rely on the schema for all of its answers."""
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status, description in COMMON_ERRORS.items():
                entry = responses.setdefault(str(status), {"description": description})
                media = entry.setdefault("content", {}).setdefault("application/json", {})
                media["schema"] = ERROR_SCHEMA
            _exact_bodies(path, method, operation)
            if (path, method) in _BODY_VARIES:
                for status, entry in responses.items():
                    if status.startswith("2"):
                        entry.pop("content", None)
    return result


def _exact_bodies(path: str, method: str, operation: dict) -> None:
    """The JSON Schemas of config/api/bodies.py in place of "any object"."""
    from config.api.bodies import REQUESTS, RESPONSES

    if (path, method) in REQUESTS:
        media = operation.setdefault("requestBody", {}).setdefault("content", {})
        for name in list(media):
            if name != "application/json":
                del media[name]  # forms carry the same fields, as strings; JSON is described
        media.setdefault("application/json", {})["schema"] = REQUESTS[(path, method)]
    for (p, m, status), schema in RESPONSES.items():
        if (p, m) == (path, method) and status in operation.get("responses", {}):
            content = operation["responses"][status].setdefault("content", {})
            content.setdefault("application/json", {})["schema"] = schema
