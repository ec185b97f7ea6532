"""The CB-Token authentication (header, or `?token=` as the SDK puts on file URLs)."""

from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from accounts.caller import Caller
from accounts.models import ApiSession, ApiUser, hash_token, same_secret
from accounts.selectors import session_by_token_hash

# Writing `updated_at` on every request would make every read a write; a minute of slack on
# a two-hour sliding expiry is invisible to clients.
TOUCH_EVERY_SECONDS = 60


def token_from(request) -> str | None:
    return request.META.get("HTTP_CB_TOKEN") or request.GET.get("token") or None


def session_for_token(token: str) -> ApiSession | None:
    """The live session of a token, touched (sliding expiry); None if unknown or expired."""
    found = session_and_version(token)
    return found[0] if found else None


def session_and_version(token: str) -> tuple[ApiSession, int] | None:
    """(the live session of a token, touched; the schema version read with it), or None.
    One SQL statement, on every request: a session deleted on any node is refused at once.
    The touch adds two statements at most once a minute per session."""
    return live_session(session_by_token_hash(hash_token(token)))


def live_session(found) -> tuple[ApiSession, int] | None:
    """(session, version) as the session statement found it, if it is still live (an
    expired one is deleted), touched; else None."""
    if found is None:
        return None
    session, version = found
    now = timezone.now()
    if session.is_expired(now):
        session.delete()
        return None
    if _due_touch(session, now):
        ApiSession.objects.filter(pk=session.pk).update(updated_at=now)
        session.updated_at = now
        if session.user_id:
            ApiUser.objects.filter(pk=session.user_id).update(last_request_at=now)
    return session, version


def _due_touch(session, now) -> bool:
    return (now - session.updated_at).total_seconds() > TOUCH_EVERY_SECONDS


def taken_as_read(session, now=None) -> bool:
    """Whether live_session would take `session` as it was read: neither expired (deleted
    then) nor due its touch."""
    now = now or timezone.now()
    return not session.is_expired(now) and not _due_touch(session, now)


def same_application(auth_key: str | None, session) -> bool:
    """A request that names an application by its key (CB-AuthKey) besides the token must
    name the token's own: a token of one application never acts on another."""
    if auth_key is None:
        return True
    return same_secret(auth_key, session.application.auth_key)


class CBTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        token = token_from(request)
        if not token:
            return None
        found = session_and_version(token)
        if found is None or not same_application(request.META.get("HTTP_CB_AUTHKEY"), found[0]):
            raise AuthenticationFailed()
        session, version = found
        return Caller.for_session(session, schema_version=version), session

    def authenticate_header(self, request):
        return "CB-Token"


class HasSession(BasePermission):
    """Any live session of an application (application or user session)."""

    def has_permission(self, request, view):
        return isinstance(request.user, Caller)


class HasUserSession(BasePermission):
    """A session with a logged-in user: every write of records and blobs needs one."""

    def has_permission(self, request, view):
        if not isinstance(request.user, Caller):
            return False
        if not request.user.is_user:
            from config.api.errors import Forbidden

            raise Forbidden("This action needs a user session (log in first)")
        return True
