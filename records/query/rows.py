"""One record by id, and writing one record back only if nobody changed it meanwhile.

The two statements a get and an update of one record send, written once per process
instead of compiled by the ORM on every request, and prepared on the server
(config/prepared.py), so PostgreSQL plans them once per connection, not on every request.
tests/records/test_rows.py checks them against the ORM's own answers.

    record_by_id(klass, id)      -> (Record, row version) or None
    write_if_unchanged(record, v) -> True if stored, False if the row changed since `v`
    records_of(queryset)          -> the queryset's records, its rows read here
    records_from(sql, params, db) -> the records a SELECT of records.query.sql answers
                                     (or, listed=True, Listed rows of the LISTED columns)
    fetch(sql, params, db)        -> the rows of any other read (records.query.sql's count)
    record_from_row(row, db)      -> the Record of a row of every column, in the table's order
    insert(record, guard=None)    -> record.save(force_insert=True), one INSERT; with a
                                     guard (Caller.guard) only if it holds: True if written

The row version is PostgreSQL's `xmin` (the transaction that wrote this version of the
row): any update or delete of the row by another transaction makes a new one, so
`UPDATE ... WHERE id = %s AND xmin = %s` is a compare-and-set. PostgreSQL re-checks that
condition against the newest committed row when another writer got there first (READ
COMMITTED), so two concurrent read-modify-writes can never both succeed from one read:
the loser changes nothing and retries (records.services.record_update).
"""

import functools

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connections, router

from config.jsontext import dumps, loads
from config.prepared import prepared_cursor, repeats_cursor
from events.wakeup import wake_after_commit
from records.models import Record, record_with

_FIELDS = Record._meta.concrete_fields
_ATTNAMES = [f.attname for f in _FIELDS]
_TABLE = Record._meta.db_table
SELECT_SQL = (
    f"SELECT {', '.join(f.column for f in _FIELDS)}, xmin::text FROM {_TABLE}"
    " WHERE object_class_id = %s AND id = %s"
)
SELECT_FOR_UPDATE_SQL = SELECT_SQL + " FOR UPDATE"
# Every column an update may change (records.services.UPDATE_FIELDS).
WRITTEN = (
    "data",
    "parent_id",
    "updated_at",
    *(f"{a}_{c}" for a in ("read", "update", "delete") for c in ("access", "ids", "groups")),
)
# The single-record writes tell the journal trigger that they notify its listeners after
# their commit (events.wakeup: a NOTIFY inside the write would make every commit queue
# behind the others' WAL flush). The RETURNING clause runs for the row written, before the
# statement's AFTER trigger, and sets the flag for this transaction only (WAKE_FLAG: the
# expression, for the other single-record writes' RETURNING lists, records.query.inplace).
WAKE_FLAG = "set_config('cubebase.wake_after_commit', 'on', true)"
_WAKE_AFTER_COMMIT = f" RETURNING {WAKE_FLAG}"
UPDATE_SQL = (
    f"UPDATE {_TABLE} SET "
    + ", ".join("data = %s::jsonb" if c == "data" else f"{c} = %s" for c in WRITTEN)
    + " WHERE id = %s AND xmin = %s::xid"
    + _WAKE_AFTER_COMMIT
)
INSERT_SQL = (
    f"INSERT INTO {_TABLE} ({', '.join(f.column for f in _FIELDS)}) VALUES ("
    + ", ".join("%s::jsonb" if f.attname == "data" else "%s" for f in _FIELDS)
    + ")"
    + _WAKE_AFTER_COMMIT
)
_DATA = _ATTNAMES.index("data")
# The columns a list shows (records.serializers.record_json without `permissions`, as the
# API's list answers): a page of the list reads only these, as Listed rows (below), not
# the nine permission columns. Six arrays and three strings less per record: for a page
# of 20, about a tenth of PostgreSQL's CPU (95 -> 85 µs) and a fifth of the Python that
# reads it (119 -> 97 µs).
LISTED = (
    "id",
    "application_id",
    "object_class_id",
    "parent_id",
    "user_id",
    "created_at",
    "updated_at",
    "data",
)


class Listed:
    """One row of a page of a list: the LISTED columns as attributes, named as a Record
    names them, which is all records.serializers.record_json reads of a record without its
    permissions. A page is shown, never changed or saved, so its rows are not made model
    instances: twenty Records cost a list about four times what twenty of these do (Model
    instances, even made by filling their `__dict__`, ask two signals for receivers each;
    docs/performance.md, "Lists and counts prepared, and a page without model instances")."""

    __slots__ = LISTED

    def __init__(self, row):
        (
            self.id,
            self.application_id,
            self.object_class_id,
            self.parent_id,
            self.user_id,
            self.created_at,
            self.updated_at,
            data,
        ) = row
        self.data = _loads(data)

    def __repr__(self):
        return f"<Listed {self.id}>"


def _loads(text):
    """jsonb arrives as text (config.jsontext reads it fast and exactly)."""
    return loads(text) if isinstance(text, str) else text


def record_by_id(klass, record_id: str) -> tuple[Record, str] | None:
    # the database the routers pick for reading records: the primary, or the read replica
    # inside a replica block (config/replica.py)
    return _one(SELECT_SQL, klass, record_id, router.db_for_read(Record))


# The record by id as columns and a join of the session statement (config.lane.Fold): a
# get reads its session and its record in one statement.
FOLD_COLUMNS = ", ".join(f"r.{f.column}" for f in _FIELDS) + ", r.xmin::text"
FOLD_JOIN = f"LEFT JOIN {_TABLE} r ON r.object_class_id = %s AND r.id = %s"


def found_from_fold(columns, alias: str) -> tuple[Record, str] | None:
    """`record_by_id`'s answer from FOLD_COLUMNS as the session statement read them."""
    if columns[0] is None:  # the LEFT JOIN found no record
        return None
    return _found(columns, alias)


def record_for_update(klass, record_id: str) -> tuple[Record, str] | None:
    """`record_by_id` on the primary, the row locked until the current transaction ends
    (a record written by many at once: the compare-and-set keeps losing)."""
    return _one(SELECT_FOR_UPDATE_SQL, klass, record_id, DEFAULT_DB_ALIAS)


def _one(sql: str, klass, record_id: str, alias: str) -> tuple[Record, str] | None:
    """(the record, its row version) that `sql` selects, or None."""
    with prepared_cursor(alias) as cursor:
        cursor.execute(sql, [klass.pk, record_id])
        row = cursor.fetchone()
    if row is None:
        return None
    return _found(row, alias)


def _found(row, alias: str) -> tuple[Record, str]:
    """(the record, its row version) of every column followed by `xmin::text`."""
    return record_from_row(row[:-1], alias), row[-1]


def record_from_row(row, alias: str) -> Record:
    """A Record of one row of every column (records.models.record_with)."""
    values = list(row)
    values[_DATA] = _loads(values[_DATA])
    return record_with(dict(zip(_ATTNAMES, values, strict=True)), alias)


def fetch(sql: str, params, alias: str, *, shaped: bool = False) -> list[tuple]:
    """The rows of one read on database `alias`: the list and count statements of the query
    module (records.query.sql, records_of) are all sent from here. `shaped`: SQL that
    records.query.sql wrote, one text per class and shape of query, its values all
    parameters: sent with its parameters apart, and prepared once the connection has sent
    it a few times (config.prepared.repeats_cursor). The ORM's SQL is sent as Django sends
    it, its values in the text."""
    cursor = repeats_cursor(alias) if shaped else connections[alias].cursor()
    with cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def records_from(sql: str, params, alias: str, *, listed: bool = False) -> list:
    """The Records of a SELECT that records.query.sql wrote of every column of the table,
    in `_FIELDS` order, or the Listed rows of one of the LISTED columns in their order
    (`listed`)."""
    if listed:
        return [Listed(row) for row in fetch(sql, params, alias, shaped=True)]
    return [record_from_row(row, alias) for row in fetch(sql, params, alias, shaped=True)]


def records_of(queryset) -> list[Record]:
    """The records a queryset of whole records selects: the SQL is the ORM's, the rows
    become Records here (JSON read by orjson, no per-row converter calls), which is about
    half of what the ORM spends on a page of records."""
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:  # a condition nothing can match (no permission): no statement
        return []
    alias = queryset.db  # as the ORM would choose: the routers, or the queryset's using()
    rows = fetch(sql, params, alias)
    if rows and len(rows[0]) != len(_ATTNAMES):  # it selects something else: the ORM knows
        return list(queryset)
    return [record_from_row(row, alias) for row in rows]


def insert(record: Record, guard: tuple | None = None) -> bool:
    """Store a new record, as `record.save(force_insert=True)` would (no model signal is
    connected to records); its id and every column are set by the caller. With `guard`
    ((sql, params) of a condition, accounts.selectors.session_guard) the row is written
    only if the condition holds, in the same statement. True if it was written."""
    values = [getattr(record, name) for name in _ATTNAMES]
    values[_DATA] = dumps(values[_DATA])
    with prepared_cursor(DEFAULT_DB_ALIAS) as cursor:
        if guard is None:
            cursor.execute(INSERT_SQL, values)
        else:
            cursor.execute(_guarded_insert_sql(guard[0]), [*values, *guard[1]])
            if cursor.fetchone() is None:
                return False
    wake_after_commit(DEFAULT_DB_ALIAS)
    record._state.adding, record._state.db = False, DEFAULT_DB_ALIAS
    return True


@functools.cache
def _guarded_insert_sql(condition: str) -> str:
    """INSERT_SQL as a SELECT of its values under `condition` (each value cast to its
    column's type: only VALUES takes them from the columns)."""
    connection = connections[DEFAULT_DB_ALIAS]
    values = ", ".join(f"%s::{f.db_type(connection)}" for f in _FIELDS)
    columns = ", ".join(f.column for f in _FIELDS)
    return f"INSERT INTO {_TABLE} ({columns}) SELECT {values} WHERE {condition}" + (
        _WAKE_AFTER_COMMIT
    )


def write_if_unchanged(record: Record, row_version: str) -> bool:
    values = [getattr(record, c) for c in WRITTEN]
    values[0] = dumps(values[0])
    with prepared_cursor(DEFAULT_DB_ALIAS) as cursor:
        cursor.execute(UPDATE_SQL, [*values, record.pk, row_version])
        written = cursor.rowcount == 1
    if written:
        wake_after_commit(DEFAULT_DB_ALIAS)
    return written
