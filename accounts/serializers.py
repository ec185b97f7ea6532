"""The JSON shapes of sessions and users (API.md §2). Times are ISO 8601 UTC."""

from datetime import UTC


def iso(dt) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def session_json(session, token: str) -> dict:
    return {
        "id": session.pk,
        "application_id": session.application_id,
        "user_id": session.user_id or 0,
        "token": token,
        "nonce": session.nonce,
        "ts": session.ts,
        "created_at": iso(session.created_at),
        "updated_at": iso(session.updated_at),
    }


def user_json(user, *, hide_contacts: bool = False) -> dict:
    """A user as ConnectyCube answers it. Password data never leaves; with `hide_contacts`
    (another user asking, in an application that keeps contacts private) email and phone
    are null."""
    return {
        "id": user.pk,
        "full_name": user.full_name,
        "email": None if hide_contacts else user.email,
        "login": user.login,
        "phone": None if hide_contacts else user.phone,
        "website": user.website,
        "created_at": iso(user.created_at),
        "updated_at": iso(user.updated_at),
        "last_request_at": iso(user.last_request_at),
        "external_user_id": user.external_user_id,
        "external_id": user.external_id,
        "facebook_id": user.facebook_id,
        "twitter_id": user.twitter_id,
        "blob_id": user.blob_id,
        "custom_data": user.custom_data,
        "avatar": user.avatar,
        "user_tags": ",".join(user.tags) if user.tags else None,
        "timezone": user.timezone,
    }


def hides_contacts(caller, user=None) -> bool:
    """Whether `caller` sees `user` (None: users other than its own) without email and
    phone: anyone but the user itself and console administrators, unless the application
    shows contacts (its console setting "show email and phone to other users")."""
    if caller.is_admin or caller.application.users_show_contacts:
        return False
    return user is None or caller.user_id != user.pk
