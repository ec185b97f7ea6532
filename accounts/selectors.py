"""The session lookup every API request makes, as one SQL statement built once per process
(or, for a write by a caller read before, as a condition of the write: session_guard).

    session_by_token_hash(hash) -> (session with its application and user, version) or None
    session_with(hash, sql, params) -> the same, and the row an app above joined to it
    session_guard(hash, session, number) -> (sql, params): "that session is still as read"

It loads the session, its application and its user (every column but the password hash,
which no request after login needs; what is left out loads on first access, like
`defer()`), or with `lean=True` only the columns the lean path's record requests read
(config.lane: the ids, the session's last use, the application key and the user's tags;
reading and building the user's other sixteen columns and five more timestamps cost
~16 µs of CPU a request), and one number that an app above may ask to have read with
every session: `read_with_session(sql)` registers a scalar SQL expression (classes
registers its schema version, which its per-process class cache is checked against).
Reading it here costs no round trip, and it is as fresh as the session itself. Without one
registered it is 0.

The statement is prepared on the server (config/prepared.py): planning this join was most
of what PostgreSQL spent on it. The column lists come from the models' own metadata, so a field added to a model is loaded
too. tests/accounts/test_selectors.py compares the answer with the ORM's.
"""

from django.db import DEFAULT_DB_ALIAS

from accounts.models import ApiSession, ApiUser, Application
from config.instances import instance_with
from config.prepared import prepared_cursor

_SKIPPED = {ApiSession: {"token_hash"}, Application: {"auth_secret"}, ApiUser: {"password"}}
# What the lean path's requests (records.lane) read of a caller: accounts.authentication
# (live_session, same_application), accounts.caller and the records' permission code. A
# column missing here would load on first access, one statement more per request
# (tests/records/test_lane.py counts them).
_LEAN = {
    ApiSession: ("id", "application_id", "user_id", "updated_at"),
    Application: ("id", "auth_key"),
    ApiUser: ("id", "application_id", "tags"),
}
_version_sql = "0"
_statements: dict[bool, str] = {}


def read_with_session(sql: str) -> None:
    """Have the scalar SQL expression `sql` read by every session statement (one only; the
    app that registers it owns the table it reads). Call it from an AppConfig.ready()."""
    global _version_sql
    _version_sql = f"({sql})"
    _statements.clear()


def _loaded(model, lean: bool) -> list:
    """The model's concrete fields the statement loads, in the model's field order (the
    order `Model.from_db` expects)."""
    if lean:
        return [f for f in model._meta.concrete_fields if f.attname in _LEAN[model]]
    return [f for f in model._meta.concrete_fields if f.name not in _SKIPPED[model]]


_LOADED = {
    lean: {model: [f.attname for f in _loaded(model, lean)] for model in _SKIPPED}
    for lean in (False, True)
}


def _ends(loaded: dict) -> tuple[int, int, int]:
    """Where the session's columns, the application's and the user's end in the row (the
    registered number follows them)."""
    s_end = len(loaded[ApiSession])
    a_end = s_end + len(loaded[Application])
    return s_end, a_end, a_end + len(loaded[ApiUser])


_ENDS = {lean: _ends(loaded) for lean, loaded in _LOADED.items()}


def session_sql(*, lean: bool = False) -> str:
    if lean not in _statements:
        _statements[lean] = session_sql_with("", "", lean=lean)
    return _statements[lean]


def session_sql_with(columns: str, joins: str, *, lean: bool = False) -> str:
    """The session statement with `columns` selected after its own and `joins` after its
    own (an app above reads a row of its own in the same statement: records.lane). The
    token hash is its last parameter, after any in `joins`."""
    own = (
        [f"s.{f.column}" for f in _loaded(ApiSession, lean)]
        + [f"a.{f.column}" for f in _loaded(Application, lean)]
        + [f"u.{f.column}" for f in _loaded(ApiUser, lean)]
    )
    return (
        f"SELECT {', '.join(own)}, {_version_sql}{', ' + columns if columns else ''}"
        f" FROM {ApiSession._meta.db_table} s"
        f" JOIN {Application._meta.db_table} a ON a.id = s.application_id"
        f" LEFT JOIN {ApiUser._meta.db_table} u ON u.id = s.user_id"
        f"{' ' + joins if joins else ''}"
        " WHERE s.token_hash = %s"
    )


def _instance(model, names, values):
    """As `model.from_db` with the loaded columns (the others are deferred), read on the
    default database, where prepared_cursor() sends the session statement."""
    return instance_with(model, dict(zip(names, values, strict=True)), DEFAULT_DB_ALIAS)


def session_by_token_hash(token_hash: str, *, lean: bool = False) -> tuple[ApiSession, int] | None:
    """(the session with its application and user attached, the registered number), or
    None when no session has this token hash."""
    found, _ = session_with(token_hash, session_sql(lean=lean), [], lean=lean)
    return found


def session_with(token_hash: str, sql: str, params: list, *, lean: bool = False):
    """Run `sql` (from session_sql_with, with the same `lean`) with the parameters of its
    joins: ((session, number) or None, the columns after the session statement's own, or
    None)."""
    with prepared_cursor() as cursor:  # planned once per connection
        cursor.execute(sql, [*params, token_hash])
        row = cursor.fetchone()
    if row is None:
        return None, None
    loaded, (s_end, a_end, u_end) = _LOADED[lean], _ENDS[lean]
    session = _instance(ApiSession, loaded[ApiSession], row[:s_end])
    # Attached as `session.application = ...` would attach them (the ids already agree, by
    # the joins), without the descriptor's checks of routers: 2 µs a request.
    related = session._state.fields_cache
    related["application"] = _instance(Application, loaded[Application], row[s_end:a_end])
    related["user"] = (
        _instance(ApiUser, loaded[ApiUser], row[a_end:u_end]) if session.user_id else None
    )
    return (session, row[u_end] or 0), row[u_end + 1 :]


def session_guard(token_hash: str, session, number: int) -> tuple[str, list]:
    """(sql, params) of a condition true only while the user session of `token_hash` is,
    in the snapshot of the statement that carries it, the one the session statement read:
    the same row, last used at the same instant, the same user with the same tags, and the
    registered number unchanged (none reads as 0, as in the session statement). A write
    that carries it acts for a caller built from an earlier read of the session
    (config.lane) exactly when that read would still give the same caller: a session
    deleted, touched, logged into another user, a user deleted or retagged, or a schema
    changed, and it writes nothing."""
    user = session.user
    # The session is found by its token's unique index, whatever the planner might make of
    # `s.user_id = u.id = %s` (a user's every session): OFFSET 0 keeps that subquery whole.
    sql = (
        f"EXISTS (SELECT FROM (SELECT id, user_id, updated_at FROM {ApiSession._meta.db_table}"
        " WHERE token_hash = %s OFFSET 0) s"
        f" JOIN {ApiUser._meta.db_table} u ON u.id = s.user_id"
        " WHERE s.id = %s AND s.updated_at = %s AND u.id = %s"
        f" AND u.tags = %s::varchar(100)[] AND coalesce({_version_sql}, 0) = %s)"
    )
    return sql, [token_hash, session.pk, session.updated_at, user.pk, list(user.tags), number]
