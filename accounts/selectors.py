"""The session lookup every API request makes, as one SQL statement built once per process.

    session_by_token_hash(hash) -> (session with its application and user, version) or None
    session_with(hash, sql, params) -> the same, and the row an app above joined to it

It loads the session, its application and its user (every column but the password hash,
which no request after login needs; what is left out loads on first access, like
`defer()`), and one number that an app above may ask to have read with every session:
`read_with_session(sql)` registers a scalar SQL expression (classes registers its schema
version, which its per-process class cache is checked against). Reading it here costs no
round trip, and it is as fresh as the session itself. Without one registered it is 0.

The statement is prepared on the server (config/prepared.py): planning this join was most
of what PostgreSQL spent on it. The column lists come from the models' own metadata, so a field added to a model is loaded
too. tests/accounts/test_selectors.py compares the answer with the ORM's.
"""

from django.db import connection

from accounts.models import ApiSession, ApiUser, Application
from config.instances import instance_with
from config.prepared import prepared_cursor

_SKIPPED = {ApiSession: {"token_hash"}, Application: {"auth_secret"}, ApiUser: {"password"}}
_version_sql = "0"
_statement: str | None = None


def read_with_session(sql: str) -> None:
    """Have the scalar SQL expression `sql` read by every session statement (one only; the
    app that registers it owns the table it reads). Call it from an AppConfig.ready()."""
    global _version_sql, _statement
    _version_sql, _statement = f"({sql})", None


def _loaded(model) -> list:
    """The model's concrete fields the statement loads, in the model's field order (the
    order `Model.from_db` expects)."""
    return [f for f in model._meta.concrete_fields if f.name not in _SKIPPED[model]]


_LOADED = {model: [f.attname for f in _loaded(model)] for model in _SKIPPED}


def session_sql() -> str:
    global _statement
    if _statement is None:
        _statement = session_sql_with("", "")
    return _statement


def session_sql_with(columns: str, joins: str) -> str:
    """The session statement with `columns` selected after its own and `joins` after its
    own (an app above reads a row of its own in the same statement: records.lane). The
    token hash is its last parameter, after any in `joins`."""
    own = (
        [f"s.{f.column}" for f in _loaded(ApiSession)]
        + [f"a.{f.column}" for f in _loaded(Application)]
        + [f"u.{f.column}" for f in _loaded(ApiUser)]
    )
    return (
        f"SELECT {', '.join(own)}, {_version_sql}{', ' + columns if columns else ''}"
        f" FROM {ApiSession._meta.db_table} s"
        f" JOIN {Application._meta.db_table} a ON a.id = s.application_id"
        f" LEFT JOIN {ApiUser._meta.db_table} u ON u.id = s.user_id"
        f"{' ' + joins if joins else ''}"
        " WHERE s.token_hash = %s"
    )


def _instance(model, values):
    """As `model.from_db` with the loaded columns (the others are deferred)."""
    return instance_with(model, dict(zip(_LOADED[model], values, strict=True)), connection.alias)


def session_by_token_hash(token_hash: str) -> tuple[ApiSession, int] | None:
    """(the session with its application and user attached, the registered number), or
    None when no session has this token hash."""
    found, _ = session_with(token_hash, session_sql(), [])
    return found


# The columns the session statement itself selects: the session's, the application's, the
# user's, the registered number.
_S_END = len(_LOADED[ApiSession])
_A_END = _S_END + len(_LOADED[Application])
_U_END = _A_END + len(_LOADED[ApiUser])


def session_with(token_hash: str, sql: str, params: list):
    """Run `sql` (from session_sql_with) with the parameters of its joins: ((session,
    number) or None, the columns after the session statement's own, or None)."""
    with prepared_cursor() as cursor:  # planned once per connection
        cursor.execute(sql, [*params, token_hash])
        row = cursor.fetchone()
    if row is None:
        return None, None
    session = _instance(ApiSession, row[:_S_END])
    session.application = _instance(Application, row[_S_END:_A_END])
    session.user = _instance(ApiUser, row[_A_END:_U_END]) if session.user_id else None
    return (session, row[_U_END] or 0), row[_U_END + 1 :]
