"""An update of one record that PostgreSQL applies by itself, in one statement.

The general update of one record (records.services.record_update) reads the row, changes it
in Python and writes it back only if nobody wrote it meanwhile: two statements, and a
retry when another writer got there first (a counter incremented by many). The two
commonest changes can be said in SQL instead, and then one `UPDATE ... RETURNING` does the
whole request:

    {"name": "x", "score": 2.5, "note": null}   plain fields set or cleared (not File)
    {"inc": {"n": 1}}                            Integer fields incremented

    update_in_place(caller, klass, record_id, plan) -> the Record as written, or None

None means "not here": the plan holds something else (operators on arrays, permissions,
a parent, a File, a Float increment, a field both set and incremented), or no row met the
statement's conditions. The caller then takes the general path, which finds out why (no
such record, not allowed, a value out of range, a record grown too large) and answers
exactly as before: this module only ever answers the plain, successful case.

The conditions are the general path's, written in SQL:
- the record's class and id, and the caller's update permission (records.query.sql.visible,
  the gate of a by-criteria update), which for a caller the lean path built from an
  earlier read of its session (Caller.guard) holds the condition that the session is
  still as read: then this statement is the whole request, session check included;
- each incremented field holds a number or nothing (Python's `(current or 0) + amount`),
  and the result stays a 64-bit integer (records.updates.apply_inc);
- the record stays within MAX_RECORD_BYTES. PostgreSQL's text of a jsonb is never shorter
  than the compact JSON the general path measures (it puts a space after each `:` and `,`
  and writes the same escapes and digits), so the row's current text plus the most these
  changes can add is an upper bound of the new size; near the limit the general path
  measures exactly.

Values are stored as the general path stores them (the coerced values, JSON by
config.jsontext), numbers added as `numeric` (exact: 2.0 + 1 is 3.0, as in Python). Under
READ COMMITTED PostgreSQL evaluates the conditions and the new value on the newest version
of a row another writer just changed, so concurrent increments all count.

Field names travel as parameters, so a statement's text depends only on whether it sets and
clears fields, how many it increments and the permission gate's shape: it is prepared once
per shape (config/prepared.py).
"""

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS

from classes.models import FieldType
from classes.types import INT64_MAX, INT64_MIN, MAX_RECORD_BYTES
from config.jsontext import dumps
from config.prepared import prepared_cursor
from events.wakeup import wake_after_commit
from records.query import rows
from records.query.sql import DATA, SELECT, TABLE, column, visible
from records.updates import UpdatePlan

# What one increment can add to the record's JSON: `,"name":` around its name, and an
# int64's 20 characters (sign included) where the old value may have had one.
_INC_GROWTH = 26


def applies(klass, plan: UpdatePlan) -> bool:
    """Whether `plan` is one this module writes in SQL."""
    if plan.index_sets or plan.columns or plan.parent_given:
        return False
    fields = klass.field_map()
    if any(fields[name].type == FieldType.FILE for name in plan.sets):
        return False  # a File set or cleared schedules the old file's deletion
    incremented = [fld.name for op, fld, _ in plan.ops]
    if any(op != "inc" or fld.type != FieldType.INTEGER for op, fld, _ in plan.ops):
        return False
    return len(set(incremented)) == len(incremented) and not set(incremented) & plan.sets.keys()


def _current(name: str, params: list) -> str:
    """The incremented field's number now: 0 for nothing or null, NULL (so no row) for a
    value that is not a number."""
    value = f"({DATA} -> %s)"
    params += [name] * 4
    return (
        f"CASE WHEN {value} IS NULL OR jsonb_typeof({value}) = 'null' THEN 0"
        f" WHEN jsonb_typeof({value}) = 'number' THEN ({DATA} ->> %s)::numeric END"
    )


def statement(caller, klass, record_id: str, plan: UpdatePlan, stamp: int):
    """(sql, params) of the update, or None when the caller may update nothing of the class
    (the permission gate raises EmptyResultSet)."""
    try:
        gate, gate_params = visible(caller, klass, "update").render()
    except EmptyResultSet:
        return None
    # Parameters go in the order their placeholders appear in the text.
    data, params, growth = DATA, [], 0
    kept = {name: value for name, value in plan.sets.items() if value is not None}
    cleared = [name for name, value in plan.sets.items() if value is None]
    if kept:
        data = f"({data} || %s::jsonb)"
        params.append(dumps(kept))
        growth += sum(len(dumps({name: value}).encode()) for name, value in kept.items())
    if cleared:
        data = f"({data} - %s::text[])"
        params.append(cleared)
    totals = []  # (SQL of the new number, its parameters), for the guards
    for _, fld, amount in plan.ops:
        total_params: list = []
        total = f"({_current(fld.name, total_params)} + %s::numeric)"
        total_params.append(amount)
        data = f"jsonb_set({data}, ARRAY[%s]::text[], to_jsonb{total})"
        params += [fld.name, *total_params]  # a name, not a list: no list to dump
        totals.append((total, total_params))
        growth += len(fld.name.encode()) + _INC_GROWTH
    sql = (
        f'UPDATE {TABLE} SET "data" = {data}, "updated_at" = %s'
        f" WHERE {column('object_class_id')} = %s AND {column('id')} = %s"
    )
    params += [stamp, klass.pk, record_id]
    if gate:
        sql += f" AND {gate}"
        params += gate_params
    for total, total_params in totals:
        sql += f" AND {total} BETWEEN {INT64_MIN} AND {INT64_MAX}"
        params += total_params
    sql += f" AND octet_length({DATA}::text) <= %s"
    params.append(MAX_RECORD_BYTES - growth)
    returning = SELECT.removeprefix("SELECT ")
    sql += f" RETURNING {returning}, {rows.WAKE_FLAG}"
    return sql, params


def update_in_place(caller, klass, record_id: str, plan: UpdatePlan, stamp: int):
    """The record as written, or None (not a plan for SQL, or no row met the conditions)."""
    if not applies(klass, plan):
        return None
    found = statement(caller, klass, record_id, plan, stamp)
    if found is None:
        return None
    with prepared_cursor(DEFAULT_DB_ALIAS) as cursor:
        cursor.execute(*found)
        row = cursor.fetchone()
    if row is None:
        return None
    wake_after_commit(DEFAULT_DB_ALIAS)
    return rows.record_from_row(row[:-1], DEFAULT_DB_ALIAS)
