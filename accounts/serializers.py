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


def user_json(user) -> dict:
    return {
        "id": user.pk,
        "login": user.login,
        "email": user.email,
        "full_name": user.full_name,
        "user_tags": ",".join(user.tags) if user.tags else None,
        "created_at": iso(user.created_at),
        "updated_at": iso(user.updated_at),
        "last_request_at": iso(user.last_request_at),
    }
