"""Server-side prepared statements for the few fixed statements every API request sends,
and for the statements of lists and counts that a connection keeps sending.

    with prepared_cursor(alias) as cursor:
        cursor.execute(SQL, params)   # parsed and planned once per connection
    with repeats_cursor(alias) as cursor:
        cursor.execute(sql, params)   # prepared once this connection has run it 5 times

Django's PostgreSQL backend binds parameters on the client: each statement goes to the
server as text, which parses and plans it again every time. For the session statement and
the record by id that planning was most of PostgreSQL's work on a request (measured with
pg_stat_statements' track_planning: about 190 µs to plan the session statement against
40 µs to run it, 100 µs against 30 µs for the record). A statement prepared on the
connection is planned a few times, then PostgreSQL keeps a generic plan.

The cursor is psycopg's server-binding cursor on Django's own connection (`alias`), wrapped
the way Django wraps its cursors (its database errors, its query log in tests), so it runs
inside the same transactions, savepoints and test transactions as the ORM. Only SQL that
is written once per process goes through it: every distinct text becomes one prepared
statement on each connection. psycopg forgets them all after a rollback (and PostgreSQL
re-plans them by itself after a change of the tables they read).

`repeats_cursor` is the same cursor without the insistence: psycopg prepares a text
when the connection runs it for the fifth time (`prepare_threshold`) and keeps the 100
used last (`prepared_max`). It is for SQL written per request from a few shapes, the
query module's lists and counts (records.query.sql): one text per class and shape of
query, which a busy client sends over and over with other values. Parsing and planning
one of those was more than half of what PostgreSQL spent on it (docs/performance.md,
"Lists and counts prepared"); a shape seen once is sent as before, planned for its
values.

DATABASE_PREPARED_STATEMENTS=0 (config/settings.py) turns this off for connection poolers
that cannot hold prepared statements (PgBouncer in transaction mode before 1.22, or with
`max_prepared_statements = 0`): then this is Django's usual cursor.
"""

from django.db import connections
from django.db.backends.postgresql.base import ServerBindingCursor


class _PreparingCursor(ServerBindingCursor):
    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


def _prepares(db) -> bool:
    # psycopg prepares nothing on a connection whose prepare_threshold is None (Django's
    # default); settings.py sets it when prepared statements are on.
    return db.settings_dict["OPTIONS"].get("prepare_threshold") is not None


def prepared_cursor(alias: str = "default"):
    """A cursor of Django's connection `alias` whose statements are prepared on the server
    (or Django's usual cursor, when prepared statements are off)."""
    return _server_binding(alias, _PreparingCursor)


def repeats_cursor(alias: str = "default"):
    """A cursor of Django's connection `alias` whose statements psycopg prepares once the
    connection has run them `prepare_threshold` times (or Django's usual cursor, when
    prepared statements are off)."""
    return _server_binding(alias, ServerBindingCursor)


def _server_binding(alias: str, cursor_class):
    db = connections[alias]  # looked up once: ~1.7 µs each (a thread-critical asgiref Local)
    if not _prepares(db):
        return db.cursor()
    # What BaseDatabaseWrapper.cursor() does, with psycopg's server-binding cursor.
    db.close_if_health_check_failed()
    db.ensure_connection()
    with db.wrap_database_errors:
        return db._prepare_cursor(cursor_class(db.connection))
