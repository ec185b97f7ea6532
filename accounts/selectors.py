"""The session lookup every API request makes, as one SQL statement built once per process.

    session_by_token_hash(hash) -> (session with its application and user, version) or None

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
        columns = (
            [f"s.{f.column}" for f in _loaded(ApiSession)]
            + [f"a.{f.column}" for f in _loaded(Application)]
            + [f"u.{f.column}" for f in _loaded(ApiUser)]
        )
        _statement = (
            f"SELECT {', '.join(columns)}, {_version_sql}"
            f" FROM {ApiSession._meta.db_table} s"
            f" JOIN {Application._meta.db_table} a ON a.id = s.application_id"
            f" LEFT JOIN {ApiUser._meta.db_table} u ON u.id = s.user_id"
            " WHERE s.token_hash = %s"
        )
    return _statement


def _instance(model, values):
    """As `model.from_db` with the loaded columns (the others are deferred)."""
    return instance_with(model, dict(zip(_LOADED[model], values, strict=True)), connection.alias)


def session_by_token_hash(token_hash: str) -> tuple[ApiSession, int] | None:
    """(the session with its application and user attached, the registered number), or
    None when no session has this token hash."""
    with prepared_cursor() as cursor:  # planned once per connection
        cursor.execute(session_sql(), [token_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    s_end = len(_LOADED[ApiSession])
    a_end = s_end + len(_LOADED[Application])
    u_end = a_end + len(_LOADED[ApiUser])
    session = _instance(ApiSession, row[:s_end])
    session.application = _instance(Application, row[s_end:a_end])
    session.user = _instance(ApiUser, row[a_end:u_end]) if session.user_id else None
    return session, row[u_end] or 0
