"""Writes and checks for applications, users and sessions."""

import hashlib
import hmac
import re
import time

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import ApiSession, ApiUser, Application, same_secret
from config.api.errors import ApiError, Unprocessable
from config.api.indexes import is_index


class BadCredentials(ApiError):
    """One answer for every failed credential check (application id, key, signature, login,
    password): which part was wrong is not said."""

    status = 401

    def __init__(self):
        super().__init__("Unauthorized")


LOGIN_RE = re.compile(r"^[^\s,]{3,100}$")
MIN_PASSWORD = 8


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
    try:
        timestamp = int(params.get("timestamp"))
    except (TypeError, ValueError):
        raise BadCredentials() from None
    if not params.get("nonce") or abs(time.time() - timestamp) > settings.SIGNATURE_MAX_AGE_SECONDS:
        raise BadCredentials()
    given = str(params.get("signature") or "").lower()
    if not same_secret(given, expected_signature(app.auth_secret, params)):
        raise BadCredentials()


def user_by_credentials(app: Application, creds) -> ApiUser:
    if not isinstance(creds, dict):
        raise BadCredentials()
    password = creds.get("password")
    login, email = creds.get("login"), creds.get("email")
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


def session_create(*, params: dict) -> tuple[ApiSession, str]:
    """POST /session: an application session, or a user session when `user` is given."""
    app = application_by_credentials(params.get("application_id"), params.get("auth_key"))
    if "signature" in params:
        check_signature(app, params)
    if params.get("provider"):
        # Facebook, Twitter and Firebase logins need those services; answering with an
        # application session instead would look like success to the client.
        raise Unprocessable({"provider": ["is not supported: log in with login or email"]})
    user = user_by_credentials(app, params["user"]) if params.get("user") else None
    if user is not None:
        _seen(user)
    return ApiSession.open(
        application=app,
        user=user,
        ts=_int_or_none(params.get("timestamp")),
        nonce=params.get("nonce") or "",
    )


def session_login(*, session: ApiSession, creds) -> ApiUser:
    """POST /login: the session becomes a session of the user the credentials name."""
    user = user_by_credentials(session.application, creds)
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
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_tags(value) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list):
        items = [str(v) for v in value]
    else:
        raise Unprocessable({"tags": ["must be a comma-separated string or a list"]})
    tags = [t.strip() for t in items if str(t).strip()]
    if any(len(t) > 100 for t in tags):
        raise Unprocessable({"tags": ["a tag is at most 100 characters"]})
    return list(dict.fromkeys(tags))


def _validate_user_fields(data: dict, errors: dict) -> dict:
    clean = {}
    for name in ("login", "email", "full_name", "password"):
        value = data.get(name)
        if value is not None and not isinstance(value, str | int):
            errors.setdefault(name, []).append("must be a string")
        elif value is not None:
            clean[name] = str(value).strip() if name != "password" else str(value)
    if "login" in clean and not LOGIN_RE.match(clean["login"]):
        errors.setdefault("login", []).append("must be 3-100 characters with no spaces or commas")
    if clean.get("email"):
        try:
            validate_email(clean["email"])
        except DjangoValidationError:
            errors.setdefault("email", []).append("is invalid")
    if "password" in clean and len(clean["password"]) < MIN_PASSWORD:
        errors.setdefault("password", []).append(
            f"is too short (minimum is {MIN_PASSWORD} characters)"
        )
    if len(clean.get("full_name", "")) > 200:
        errors.setdefault("full_name", []).append("is too long (maximum is 200 characters)")
    if "tags" in data:
        try:
            clean["tags"] = parse_tags(data["tags"])
        except Unprocessable as exc:
            errors.update(exc.errors)
    return clean


@transaction.atomic
def user_create(*, application: Application, data) -> ApiUser:
    """Sign-up. Login or email is required, and a password."""
    if not isinstance(data, dict):
        raise Unprocessable({"user": ["is required"]})
    errors: dict = {}
    clean = _validate_user_fields(data, errors)
    if not clean.get("login") and not clean.get("email"):
        errors.setdefault("login", []).append("login or email is required")
    if "password" not in clean:
        errors.setdefault("password", []).append("is required")
    if errors:
        raise Unprocessable(errors)
    user = ApiUser(
        application=application,
        login=clean.get("login") or None,
        email=clean.get("email") or None,
        full_name=clean.get("full_name", ""),
        tags=clean.get("tags", []),
    )
    user.set_password(clean["password"])
    _save_unique(user)
    return user


def _save_unique(user: ApiUser) -> None:
    taken = {}
    users = ApiUser.objects.filter(application_id=user.application_id).exclude(pk=user.pk)
    if user.login and users.filter(login=user.login).exists():
        taken["login"] = ["has already been taken"]
    if user.email and users.filter(email__iexact=user.email).exists():
        taken["email"] = ["has already been taken"]
    if taken:
        raise Unprocessable(taken)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # a concurrent sign-up took it between the check and the save
        raise Unprocessable({"login": ["has already been taken"]}) from None


@transaction.atomic
def user_update(*, user: ApiUser, data) -> ApiUser:
    if not isinstance(data, dict):
        raise Unprocessable({"user": ["is required"]})
    errors: dict = {}
    clean = _validate_user_fields(data, errors)
    if "password" in clean and not user.check_password(str(data.get("old_password") or "")):
        errors.setdefault("old_password", []).append("is wrong")
    login = clean["login"] or None if "login" in clean else user.login
    email = clean["email"] or None if "email" in clean else user.email
    if not login and not email:
        errors.setdefault("login", []).append("login or email is required")
    if errors:
        raise Unprocessable(errors)
    user.login, user.email = login, email
    for name in ("full_name", "tags"):
        if name in clean:
            setattr(user, name, clean[name])
    if "password" in clean:
        user.set_password(clean["password"])
    _save_unique(user)
    return user


@transaction.atomic
def user_delete(*, user: ApiUser) -> None:
    """DELETE /users/{id}: the user, its sessions and its blobs go; the stored objects of
    the blobs are removed once the deletion is committed. Records the user created stay:
    they are the application's data."""
    from blobs.files import schedule_owned_objects_deletion  # blobs builds on accounts

    schedule_owned_objects_deletion(owner_ids=[user.pk])
    user.delete()
