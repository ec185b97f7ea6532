"""Writes and checks for applications, users and sessions."""

import hashlib
import hmac
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import throttle
from accounts.deletion import before_owner_deletion
from accounts.models import ApiSession, ApiUser, Application, same_secret
from accounts.user_fields import (  # LOGIN_RE and MIN_PASSWORD: the console imports them here
    LOGIN_RE,  # noqa: F401
    MIN_PASSWORD,  # noqa: F401
    UNIQUE_FIELDS,
    FieldError,
    clean_tags,
    clean_user_fields,
)
from config.api.errors import ApiError, TooManyRequests, Unprocessable
from config.api.indexes import is_index


class BadCredentials(ApiError):
    """One answer for every failed credential check (application id, key, signature, login,
    password): which part was wrong is not said."""

    status = 401

    def __init__(self):
        super().__init__("Unauthorized")


def application_by_credentials(application_id, auth_key) -> Application:
    app_id = str(application_id).strip() if isinstance(application_id, int | str) else ""
    if not is_index(app_id):  # no such application
        raise BadCredentials()
    app = Application.objects.filter(pk=int(app_id)).first()
    if app is None:
        raise BadCredentials()
    if not same_secret(auth_key, app.auth_key):
        raise BadCredentials()
    return app


def application_by_auth_key(auth_key: str) -> Application:
    app = Application.objects.filter(auth_key=auth_key).first()
    if app is None or not same_secret(auth_key, app.auth_key):
        raise BadCredentials()
    return app


def flatten(params: dict, prefix: str = "") -> list[tuple[str, str]]:
    """`{"user": {"login": "a"}}` -> [("user[login]", "a")], as the signature scheme reads it."""
    out = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            out.extend(flatten(value, name))
        else:
            out.append((name, "" if value is None else str(value)))
    return out


def expected_signature(secret: str, params: dict) -> str:
    """HMAC-SHA1 over the sorted `key=value&...` of every parameter but the signature."""
    pairs = sorted(p for p in flatten(params) if p[0] != "signature")
    message = "&".join(f"{k}={v}" for k, v in pairs)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha1).hexdigest()


def check_signature(app: Application, params: dict) -> None:
    timestamp = _int_or_none(params.get("timestamp"))
    if timestamp is None:
        raise BadCredentials()
    if not params.get("nonce") or abs(time.time() - timestamp) > settings.SIGNATURE_MAX_AGE_SECONDS:
        raise BadCredentials()
    given = str(params.get("signature") or "").lower()
    if not same_secret(given, expected_signature(app.auth_secret, params)):
        raise BadCredentials()


def user_by_credentials(app: Application, creds, *, address: str | None = None) -> ApiUser:
    """The user the credentials name, or BadCredentials; TooManyRequests while that login
    or the client's address is blocked for failing too often (accounts/throttle.py)."""
    if not isinstance(creds, dict):
        raise BadCredentials()
    password = creds.get("password")
    login, email = creds.get("login"), creds.get("email")
    keys = throttle.Keys.api(app.pk, str(login or email or ""), address)
    verdict = throttle.check(keys)
    if verdict.retry_after:
        raise TooManyRequests(
            f"Too many failed logins: try again in {verdict.retry_after} seconds",
            retry_after=verdict.retry_after,
        )
    try:
        user = _check_credentials(app, login, email, password)
    except BadCredentials:
        throttle.record_failure(keys)
        raise
    if verdict.account_has_failures:
        throttle.forget_account(keys)
    return user


def _check_credentials(app, login, email, password) -> ApiUser:
    users = ApiUser.objects.filter(application=app)
    if login:
        user = users.filter(login=str(login)).first()
    elif email:
        user = users.filter(email__iexact=str(email)).first()
    else:
        user = None
    if user is None:
        # Hash anyway, so an unknown login takes as long as a wrong password.
        ApiUser().set_password(str(password))
        raise BadCredentials()
    if not isinstance(password, str) or not user.check_password(password):
        raise BadCredentials()
    return user


def session_create(*, params: dict, address: str | None = None) -> tuple[ApiSession, str]:
    """POST /session: an application session, or a user session when `user` is given."""
    app = application_by_credentials(params.get("application_id"), params.get("auth_key"))
    if "signature" in params:
        check_signature(app, params)
    if params.get("provider"):
        # Facebook, Twitter and Firebase logins need those services; answering with an
        # application session instead would look like success to the client.
        raise Unprocessable({"provider": ["is not supported: log in with login or email"]})
    user = user_by_credentials(app, params["user"], address=address) if params.get("user") else None
    if user is not None:
        _seen(user)
    return ApiSession.open(
        application=app,
        user=user,
        ts=_int_or_none(params.get("timestamp")),
        nonce=params.get("nonce") or "",
    )


def session_login(*, session: ApiSession, creds, address: str | None = None) -> ApiUser:
    """POST /login: the session becomes a session of the user the credentials name."""
    user = user_by_credentials(session.application, creds, address=address)
    _seen(user)
    ApiSession.objects.filter(pk=session.pk).update(user=user)
    return user


def session_logout(*, session: ApiSession) -> None:
    """DELETE /login: back to an application session."""
    ApiSession.objects.filter(pk=session.pk).update(user=None)


def _seen(user: ApiUser) -> None:
    user.last_request_at = timezone.now()
    ApiUser.objects.filter(pk=user.pk).update(last_request_at=user.last_request_at)


def _int_or_none(value):
    """A Unix-seconds timestamp as a 64-bit integer, else None (`1e400`, `abc`, `2**70`)."""
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if -(2**63) <= number < 2**63 else None


def parse_tags(value) -> list[str]:
    try:
        return clean_tags(value)
    except FieldError as exc:
        raise Unprocessable({"tags": [str(exc)]}) from None


def _validate_user_fields(data: dict, application_id: int, errors: dict) -> dict:
    clean, field_errors = clean_user_fields(data, application_id=application_id)
    errors.update(field_errors)
    return clean


def _assign(user: ApiUser, clean: dict) -> None:
    for name, value in clean.items():
        if name == "password":
            user.set_password(value)
        else:
            setattr(user, name, value)


@transaction.atomic
def user_create(*, application: Application, data) -> ApiUser:
    """Sign-up. Login or email is required, and a password."""
    if not isinstance(data, dict):
        raise Unprocessable({"user": ["is required"]})
    errors: dict = {}
    clean = _validate_user_fields(data, application.pk, errors)
    if not clean.get("login") and not clean.get("email"):
        errors.setdefault("login", []).append("login or email is required")
    if "password" not in clean:
        errors.setdefault("password", []).append("is required")
    if errors:
        raise Unprocessable(errors)
    user = ApiUser(application=application)
    _assign(user, clean)
    _save_unique(user)
    return user


def taken_fields(user: ApiUser) -> dict:
    """The identifying fields of `user` another user of its application already has."""
    users = ApiUser.objects.filter(application_id=user.application_id).exclude(pk=user.pk)
    taken = {}
    for name in UNIQUE_FIELDS:
        value = getattr(user, name)
        lookup = "email__iexact" if name == "email" else name
        if value is not None and value != "" and users.filter(**{lookup: value}).exists():
            taken[name] = ["has already been taken"]
    return taken


def _save_unique(user: ApiUser) -> None:
    taken = taken_fields(user)
    if taken:
        raise Unprocessable(taken)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # a concurrent write took a value between the check and the save
        raise Unprocessable(taken_fields(user) or {"login": ["has already been taken"]}) from None


@transaction.atomic
def user_update(*, user: ApiUser, data) -> ApiUser:
    if not isinstance(data, dict):
        raise Unprocessable({"user": ["is required"]})
    errors: dict = {}
    clean = _validate_user_fields(data, user.application_id, errors)
    if "password" in clean and not user.check_password(str(data.get("old_password") or "")):
        errors.setdefault("old_password", []).append("is wrong")
    login = clean.get("login") if "login" in clean else user.login
    email = clean.get("email") if "email" in clean else user.email
    if not login and not email:
        errors.setdefault("login", []).append("login or email is required")
    if errors:
        raise Unprocessable(errors)
    _assign(user, clean)
    _save_unique(user)
    return user


@transaction.atomic
def user_delete(*, user: ApiUser) -> None:
    """DELETE /users/{id}: the user, its sessions and its blobs go; the stored objects of
    the blobs are removed once the deletion is committed. Records the user created stay:
    they are the application's data."""
    before_owner_deletion(owner_ids=[user.pk])
    user.delete()
