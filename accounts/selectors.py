"""The session lookup every API request makes, as one prepared SQL statement.

    SESSION_SQL: the session of a token hash, its application and its user (every column
    but the password hash, which no request after login needs), and the schema version
    (classes.models.SchemaVersion) that the class cache is checked against.

The column lists come from the models' own metadata, so a field added to a model is
loaded too; the statement is built once per process. tests/accounts/test_selectors.py
compares its answer with the ORM's.
"""

from django.db import connection

from accounts.models import ApiSession, ApiUser, Application

_SKIPPED = {ApiSession: {"token_hash"}, Application: {"auth_secret"}, ApiUser: {"password"}}


def _loaded(model) -> list:
    """The model's concrete fields this statement loads, in the model's field order (the
    order `Model.from_db` expects)."""
    return [f for f in model._meta.concrete_fields if f.name not in _SKIPPED[model]]


_LOADED = {model: [f.attname for f in _loaded(model)] for model in _SKIPPED}
SESSION_SQL = (
    "SELECT "
    + ", ".join(
        [f"s.{f.column}" for f in _loaded(ApiSession)]
        + [f"a.{f.column}" for f in _loaded(Application)]
        + [f"u.{f.column}" for f in _loaded(ApiUser)]
    )
    + ", (SELECT version FROM classes_schemaversion WHERE id = 1)"
    + f" FROM {ApiSession._meta.db_table} s"
    + f" JOIN {Application._meta.db_table} a ON a.id = s.application_id"
    + f" LEFT JOIN {ApiUser._meta.db_table} u ON u.id = s.user_id"
    + " WHERE s.token_hash = %s"
)


def _instance(model, values):
    return model.from_db(connection.alias, _LOADED[model], values)


def session_by_token_hash(token_hash: str) -> tuple[ApiSession, int] | None:
    """(the session with its application and user attached, the schema version), or None.
    Columns not loaded (the password hash, ...) load on first access, like `defer()`."""
    with connection.cursor() as cursor:
        cursor.execute(SESSION_SQL, [token_hash])
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
