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

The cursor runs the statement on Django's own connection through libpq: psycopg's `PGconn`
(its C implementation) prepares it and runs it, and psycopg's `Transformer` (C too) turns
the parameters into bytes and the result into Python values, with the adapters Django set
on the connection. Around it, `_Checked` does what Django's cursor wrapper does (the
broken-transaction check, the execute wrappers, Django's database errors); when statements
are logged (a test capturing queries, DEBUG) it is Django's wrapper itself. It runs inside
the same transactions, savepoints and test transactions as the ORM. What it leaves out of
psycopg's cursor and Django's wrapper is the Python around those calls (the query's
conversion, the cache of prepared statements, the result's bookkeeping, an error-wrapping
closure per fetch): 40-150 µs of a worker's CPU for each statement sent
(docs/performance.md, "Statements through libpq").

Every distinct text (with its parameters' types, as psycopg dumps them) becomes one
prepared statement on each connection: a text of `prepared_cursor` at its first use, one of
`repeats_cursor` at its fifth (`REPEATS`, as psycopg's `prepare_threshold`); the 100 used
last are kept (`KEPT`, as its `prepared_max`), the least recently used one closed.
`repeats_cursor` is for SQL written per request from a few shapes, the query module's
lists and counts (records.query.sql): one text per class and shape of query, which a busy
client sends over and over with other values. Parsing and planning one of those was more
than half of what PostgreSQL spent on it (docs/performance.md, "Lists and counts
prepared"); a shape seen fewer times is sent with its parameters, planned for its values.
Prepared statements outlive rollbacks; PostgreSQL plans one again by itself after a change
of the tables it reads. One that is gone from the server anyway (a pooler's `DISCARD
ALL`) is prepared again and run once more, when no transaction is open (in one, the error
stands: the transaction is already aborted).

DATABASE_PREPARED_STATEMENTS=0 (config/settings.py) turns this off for connection poolers
that cannot hold prepared statements (PgBouncer in transaction mode before 1.22, or with
`max_prepared_statements = 0`): then this is Django's usual cursor.
"""

import functools
import re
from collections import OrderedDict
from types import SimpleNamespace

from django.db import connections
from psycopg import capabilities, errors
from psycopg.adapt import PyFormat, Transformer
from psycopg.pq import DiagnosticField, ExecStatus, TransactionStatus

REPEATS = 5  # a text of repeats_cursor is prepared at this use on a connection
KEPT = 100  # statements kept prepared on a connection, the least recently used dropped

_PLACEHOLDER = re.compile(rb"%(?:\((\w+)\))?s|%%|%")
_CLOSE = capabilities.has_send_close_prepared()
_EMPTY = "{}"
_GONE = b"26000"  # invalid_sql_statement_name: no prepared statement by that name


def _prepares(db) -> bool:
    # settings.py sets prepare_threshold (None: off) from DATABASE_PREPARED_STATEMENTS.
    return db.settings_dict["OPTIONS"].get("prepare_threshold") is not None


def prepared_cursor(alias: str = "default"):
    """A cursor of Django's connection `alias` whose statements are prepared on the server
    (or Django's usual cursor, when prepared statements are off)."""
    return _cursor(alias, repeats=1)


def repeats_cursor(alias: str = "default"):
    """A cursor of Django's connection `alias` whose statements are prepared once the
    connection has run them REPEATS times (or Django's usual cursor, when prepared
    statements are off)."""
    return _cursor(alias, repeats=REPEATS)


def _cursor(alias: str, repeats: int):
    db = connections[alias]  # looked up once: ~1.7 µs each (a thread-critical asgiref Local)
    if not _prepares(db):
        return db.cursor()
    # What BaseDatabaseWrapper.cursor() does first.
    db.close_if_health_check_failed()
    db.ensure_connection()
    if db.queries_logged:  # tests, DEBUG: Django's own wrapper, which logs every statement
        with db.wrap_database_errors:
            return db._prepare_cursor(_Cursor(db.connection, repeats))
    db.validate_thread_sharing()
    return _Checked(db, _Cursor(db.connection, repeats))


class _Checked:
    """What Django's CursorWrapper does around a cursor, for the few calls these cursors
    get: the broken-transaction check, the connection's execute wrappers (the metrics'
    database time), its database errors. About 17 µs less than the wrapper for each
    statement, most of it the wrapper's error-wrapping closure made for each fetch."""

    def __init__(self, db, cursor):
        self.db = db
        self.cursor = cursor

    def execute(self, sql: str, params=None):
        self.db.validate_no_broken_transaction()
        context = {"connection": self.db, "cursor": self}
        run = self._execute
        for wrapper in reversed(self.db.execute_wrappers):
            run = functools.partial(wrapper, run)
        return run(sql, params, False, context)

    def _execute(self, sql, params, many, context):
        with self.db.wrap_database_errors:
            return self.cursor.execute(sql, params)

    @property
    def rowcount(self) -> int:
        return self.cursor.rowcount

    def fetchone(self):
        with self.db.wrap_database_errors:
            return self.cursor.fetchone()

    def fetchall(self) -> list:
        with self.db.wrap_database_errors:
            return self.cursor.fetchall()

    def close(self) -> None:
        self.cursor.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@functools.lru_cache(maxsize=KEPT * 10)  # bounded: a list's text varies with its values' count
def _convert(sql: str) -> tuple[bytes, list | None]:
    """(the text with $1, $2... for psycopg's placeholders, the parameter names in $ order
    for `%(name)s` ones or None for `%s` ones). `%%` is a `%`; a name used twice is one
    parameter, as psycopg has them."""
    names: list = []
    positional = 0

    def number(match) -> bytes:
        nonlocal positional
        name = match.group(1)
        if match.group(0) == b"%%":
            return b"%"
        if match.group(0) == b"%":
            raise errors.ProgrammingError(f"only '%s', '%(name)s' and '%%' may follow a %: {sql}")
        if name is None:
            positional += 1
            return b"$%d" % positional
        key = name.decode()
        if key not in names:
            names.append(key)
        return b"$%d" % (names.index(key) + 1)

    text = _PLACEHOLDER.sub(number, sql.encode())
    if names and positional:
        raise errors.ProgrammingError(f"'%s' and '%(name)s' placeholders mixed: {sql}")
    return text, names or None


class _Statements:
    """The statements prepared on one psycopg connection, by (SQL, parameter types): the
    KEPT used last, the least recently used one closed."""

    def __init__(self, connection):
        self.connection = connection
        self.prepared: OrderedDict = OrderedDict()  # key -> the statement's name
        self.uses: OrderedDict = OrderedDict()  # key -> uses, of those not prepared yet
        self.serial = 0

    @classmethod
    def of(cls, connection) -> "_Statements":
        found = getattr(connection, "_cubebase_statements", None)
        if found is None:
            found = connection._cubebase_statements = cls(connection)
        return found

    def name(self, key, text: bytes, types, repeats: int) -> bytes | None:
        """The prepared statement to run `key` with, prepared now if this is its
        `repeats`th use; None to send it with its parameters."""
        found = self.prepared.get(key)
        if found is not None:
            self.prepared.move_to_end(key)
            return found
        if repeats > 1:
            uses = self.uses.pop(key, 0) + 1
            if uses < repeats:
                self.uses[key] = uses
                if len(self.uses) > KEPT:
                    self.uses.popitem(last=False)
                return None
        self.serial += 1
        name = b"cubebase_%d" % self.serial
        pgconn = self.connection.pgconn
        _check(self.connection, pgconn.prepare(name, text, types))
        self.prepared[key] = name
        while len(self.prepared) > KEPT:
            _, old = self.prepared.popitem(last=False)
            # The protocol's Close where libpq has it (17+), which PgBouncer tracks, as
            # psycopg does; else the SQL command.
            if _CLOSE:
                _check(self.connection, pgconn.close_prepared(old))
            else:
                _check(self.connection, pgconn.exec_(b"DEALLOCATE " + old))
        return name

    def forget(self) -> None:
        """The server has none of them any more."""
        self.prepared.clear()


def _check(connection, result):
    if result.status == ExecStatus.FATAL_ERROR:
        raise errors.error_from_result(result, encoding=connection.info.encoding)
    return result


def _gone(result) -> bool:
    return (
        result.status == ExecStatus.FATAL_ERROR
        and result.error_field(DiagnosticField.SQLSTATE) == _GONE
    )


class _Cursor:
    """The DB-API cursor that _Checked or Django's wrapper holds (and closes): execute,
    fetchone, fetchall, rowcount."""

    def __init__(self, connection, repeats: int):
        self.connection = connection
        self.repeats = repeats
        self.rowcount = -1
        self._result = None
        self._transformer = None
        self._row = 0
        self._query = None  # what Django's query log reads (last_executed_query)

    def execute(self, sql: str, params=None):
        text, names = _convert(sql)
        self._query = SimpleNamespace(query=text)
        values = [params[name] for name in names] if names else params or ()
        # An empty list goes as psycopg sends one (the text '{}', its type left to the
        # server), without psycopg's list dumper (Python, ~2 µs a list: a record's six
        # permission lists are empty on most writes).
        values = [_EMPTY if type(value) is list and not value else value for value in values]
        connection = self.connection
        transformer = Transformer(connection)
        dumped = transformer.dump_sequence(values, [PyFormat.AUTO] * len(values))
        types = transformer.types
        statements = _Statements.of(connection)
        with connection.lock:
            result = self._run(statements, (sql, types), text, dumped, transformer)
            if _gone(result) and connection.pgconn.transaction_status == TransactionStatus.IDLE:
                statements.forget()  # dropped behind our back (a pooler's DISCARD ALL)
                result = self._run(statements, (sql, types), text, dumped, transformer)
        _check(connection, result)
        transformer.set_pgresult(result)
        self._result, self._transformer, self._row = result, transformer, 0
        tuples = result.command_tuples
        self.rowcount = tuples if tuples is not None else -1
        return self

    def _run(self, statements, key, text, dumped, transformer):
        connection = self.connection
        pgconn = connection.pgconn
        if not connection.autocommit and pgconn.transaction_status == TransactionStatus.IDLE:
            connection.wait(connection._start_query())  # the BEGIN psycopg's cursor sends
        name = statements.name(key, text, transformer.types, self.repeats)
        if name is None:
            return pgconn.exec_params(text, dumped, transformer.types, transformer.formats)
        return pgconn.exec_prepared(name, dumped, transformer.formats)

    def fetchone(self):
        if self._result is None or self._row >= self._result.ntuples:
            return None
        self._row += 1
        return self._transformer.load_row(self._row - 1, tuple)

    def fetchall(self) -> list:
        if self._result is None:
            return []
        rows = self._transformer.load_rows(self._row, self._result.ntuples, tuple)
        self._row = self._result.ntuples
        return rows

    def close(self) -> None:
        self._result = self._transformer = None
