"""Who is asking: the one object every permission decision reads."""

from dataclasses import dataclass, field


class Unconfirmed(Exception):
    """A caller with a guard (Caller.guard) got to a step no guarded statement covers, or
    its guarded statement wrote nothing: read the session, then do the request again."""


@dataclass(frozen=True)
class Caller:
    application: "object"  # accounts.models.Application
    user: "object | None" = None  # accounts.models.ApiUser
    session: "object | None" = None  # accounts.models.ApiSession
    is_admin: bool = False  # a console administrator: every permission (API.md §4.1)
    groups: tuple[str, ...] = field(default=())
    # The schema version read with the session (classes.models.SchemaVersion): lets
    # classes.selectors serve cached classes. None outside a request: always fresh.
    schema_version: int | None = None
    # Set on a caller built from an earlier read of its session, before this request's
    # own read (config.lane): (sql, params) of the condition that the session is still as
    # read (accounts.selectors.session_guard). Such a caller may only act through a
    # statement that carries the condition; anything else raises Unconfirmed.
    guard: tuple | None = field(default=None, compare=False)

    # DRF reads request.user.is_authenticated
    is_authenticated = True

    @classmethod
    def for_session(cls, session, *, schema_version: int | None = None) -> "Caller":
        user = session.user
        return cls(
            application=session.application,
            user=user,
            session=session,
            groups=tuple(user.tags) if user else (),
            schema_version=schema_version,
        )

    @classmethod
    def admin(cls, application) -> "Caller":
        return cls(application=application, is_admin=True)

    @classmethod
    def for_user(cls, user) -> "Caller":
        return cls(application=user.application, user=user, groups=tuple(user.tags))

    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user is not None else None

    @property
    def is_user(self) -> bool:
        return self.user is not None
