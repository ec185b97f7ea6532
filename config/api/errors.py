"""Every error leaves the API as {"errors": {"<field or base>": ["message", ...]}}.

Domain code raises ApiError (or one of its subclasses); DRF's and Django's own exceptions are
mapped here too, so no view formats an error by hand and nothing a client sends ends in an
HTML page or a bare 500.
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, OperationalError
from django.http import Http404, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views import defaults
from rest_framework import exceptions as drf
from rest_framework.response import Response

logger = logging.getLogger(__name__)

NO_SESSION = "Required session does not exist"


def error_body(errors) -> dict:
    """Normalise a message, a list, or a {field: message(s)} mapping to the errors shape."""
    if isinstance(errors, str):
        errors = {"base": [errors]}
    elif isinstance(errors, list | tuple):
        errors = {"base": [str(e) for e in errors]}
    out = {}
    for field, messages in errors.items():
        if isinstance(messages, dict):
            out[str(field)] = error_body(messages)["errors"]
        elif isinstance(messages, list | tuple):
            out[str(field)] = [m if isinstance(m, dict) else str(m) for m in messages]
        else:
            out[str(field)] = [str(messages)]
    return {"errors": out}


class ApiError(Exception):
    status = 400
    headers: dict = {}  # sent with the error answer (e.g. Retry-After)

    def __init__(self, errors="bad request", status: int | None = None):
        super().__init__(errors)
        self.errors = errors
        if status is not None:
            self.status = status


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401

    def __init__(self, errors=NO_SESSION):
        super().__init__(errors)


class Forbidden(ApiError):
    status = 403

    def __init__(self, errors="You don't have appropriate permissions to perform this operation"):
        super().__init__(errors)


class NotFound(ApiError):
    status = 404

    def __init__(self, errors="Not found"):
        super().__init__(errors)


class TooLarge(ApiError):
    status = 413


class Unprocessable(ApiError):
    status = 422


class TooManyRequests(ApiError):
    status = 429

    def __init__(self, errors, retry_after: int):
        super().__init__(errors)
        self.headers = {"Retry-After": str(retry_after)}


def _drf_detail(detail):
    if isinstance(detail, dict):
        return {
            k: _drf_detail(v) if isinstance(v, dict) else [str(x) for x in _as_list(v)]
            for k, v in detail.items()
        }
    return {"base": [str(x) for x in _as_list(detail)]}


def _as_list(value):
    return value if isinstance(value, list | tuple) else [value]


def _mapped(exc):
    """(status, errors) for a known exception, else None."""
    if isinstance(exc, ApiError):
        return exc.status, exc.errors
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        return 401, NO_SESSION
    if isinstance(exc, drf.ValidationError):
        return 422, _drf_detail(exc.detail)
    if isinstance(exc, drf.APIException):
        return exc.status_code, _drf_detail(exc.detail)
    if isinstance(exc, Http404):
        return 404, "Not found"
    if isinstance(exc, DjangoPermissionDenied):
        return 403, "Forbidden"
    if isinstance(exc, RequestDataTooBig):
        return 413, "request body is too large"
    if isinstance(exc, MultiPartParserError | TooManyFieldsSent | SuspiciousOperation):
        return 400, f"malformed request: {exc}"
    if isinstance(exc, DjangoValidationError):
        return 422, exc.message_dict if hasattr(exc, "error_dict") else exc.messages
    if isinstance(exc, DataError):
        return 422, "a value is out of range or of the wrong type"
    if isinstance(exc, OperationalError) and _is_conflict(exc):
        return 409, "the request collided with another one; please retry"
    return None


def _is_conflict(exc) -> bool:
    # Imported here: config.transactions builds on this module's ApiError.
    from config.transactions import is_conflict

    return is_conflict(exc)


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every exception raised in a view becomes a JSON answer."""
    # Imported here: rest_framework.views loads the parsers, which import this module.
    from rest_framework.views import set_rollback

    set_rollback()
    status, body = mapped_error(exc, where=context.get("view"))
    response = Response(body, status=status)
    if status == 401:
        response["WWW-Authenticate"] = "CB-Token"
    for name, value in getattr(exc, "headers", {}).items():
        response[name] = value
    return response


def mapped_error(exc, where=None) -> tuple[int, dict]:
    """(status, body) the API answers for an exception a request raised: the mapping of
    `exception_handler` and of the lean path (config/lane.py). Call it in `except`; an
    unknown exception is logged with its traceback and answered 500."""
    mapped = _mapped(exc)
    if mapped is None:
        logger.exception("unhandled error in %s", where)
        return 500, error_body("internal server error")
    return mapped[0], error_body(mapped[1])


def json_error(status: int, errors) -> JsonResponse:
    return JsonResponse(error_body(errors), status=status)


# Django-level handlers (URLs no view matched, errors before DRF runs). The console is an
# HTML site for people: its errors stay Django's pages.
_CONSOLE = ("/admin/", "/console/")


def _console(request) -> bool:
    return request.path.startswith(_CONSOLE)


def handler400(request, exception=None):
    if _console(request):
        return defaults.bad_request(request, exception)
    # Django answers a body over DATA_UPLOAD_MAX_MEMORY_SIZE read outside DRF with a 400.
    if isinstance(exception, RequestDataTooBig):
        return json_error(413, "request body is too large")
    return json_error(400, "bad request")


def handler403(request, exception=None):
    if _console(request):
        return defaults.permission_denied(request, exception)
    return json_error(403, "Forbidden")


def handler404(request, exception=None):
    if _console(request):
        return defaults.page_not_found(request, exception)
    return json_error(404, "Not found")


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: the console keeps Django's page; an API path answers JSON."""
    if _console(request):
        from django.views.csrf import csrf_failure as django_csrf_failure

        return django_csrf_failure(request, reason)
    return json_error(403, "Forbidden")


def handler500(request):
    if _console(request):
        return defaults.server_error(request)
    return json_error(500, "internal server error")
