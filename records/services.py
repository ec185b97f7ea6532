"""Record writes (API.md §5): create, update, delete, one by one or in bulk.

Every function is all or nothing: a request either changes everything it names or
nothing. Several statements run in one transaction; a write that is one statement (a
create without a parent) needs none, being atomic by itself. Permissions are checked here
(creating against the class level, changing each record against its own or its class's
level), so no caller can skip them. Updates of several records lock the rows they change
(`SELECT ... FOR UPDATE`, in `_id` order); an update of one record reads it and writes it
back only if it is unchanged (records.query.rows), retrying otherwise: either way
concurrent `inc`s never lose one.

Locks, in one global order so that two writes never wait on each other in a circle:
- a write locks the records it changes or deletes with `FOR UPDATE`, always in ascending
  `_id` order, in one statement; a delete locks the whole tree below its records that way
  before it deletes anything, so concurrent `inc`s never lose one and a multi update of
  `[child, parent]` cannot deadlock with the parent's delete;
- a write that names a `_parent_id` first takes `FOR KEY SHARE` on the parent, so the
  parent's delete waits for it and then deletes the new child too, or it waits for the
  delete and then answers 422: no interleaving leaves a child whose parent is gone (the
  foreign key on `parent_id` makes that a database invariant as well).
A deadlock or serialization failure that still happens is retried (config/transactions.py).
"""

import time
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Case, JSONField, Value, When

from accounts.caller import Unconfirmed
from blobs.files import schedule_file_deletion
from classes.models import FieldType
from classes.types import coerce_fields, size_error
from config.api.errors import Forbidden, NotFound, Unprocessable
from config.api.indexes import is_index_map
from config.transactions import atomic_with_retry
from records.ids import is_object_id, new_object_id
from records.models import Record, new_record
from records.permissions import can, check, check_create, parse_record_permissions
from records.query import matching
from records.query.inplace import update_in_place
from records.query.rows import insert, record_by_id, record_for_update, write_if_unchanged
from records.updates import UpdatePlan, plan_update

MAX_BATCH = 100
SYSTEM_KEYS = frozenset({"user_id", "created_at", "updated_at"})


def now() -> int:
    return int(time.time())


# --- create -------------------------------------------------------------------------------


@dataclass
class _Prepared:
    values: dict
    columns: dict = field(default_factory=dict)
    parent_id: str | None = None


def _prepare(klass, data, *, form: bool) -> tuple[_Prepared | None, dict]:
    """A create body -> (what to store, errors by field)."""
    if not isinstance(data, dict):
        return None, {"base": ["a record must be an object of fields"]}
    fields = {k: v for k, v in data.items() if k not in {"permissions", "_parent_id", "token"}}
    errors = {k: ["is set by the server"] for k in fields if k in SYSTEM_KEYS | {"_id", "id"}}
    values, field_errors = coerce_fields(
        klass.field_map(), {k: v for k, v in fields.items() if k not in errors}, form=form
    )
    errors.update(field_errors)
    prepared = _Prepared({k: v for k, v in values.items() if v is not None})
    try:
        prepared.columns = parse_record_permissions(data.get("permissions"))
    except Unprocessable as exc:
        errors.update(exc.errors)
    parent = data.get("_parent_id")
    if parent not in (None, "", "null"):
        if not is_object_id(parent):
            errors["_parent_id"] = ["must be the _id of a record"]
        else:
            prepared.parent_id = parent
    if not errors and (message := size_error(prepared.values)):
        errors["base"] = [message]
    return prepared, errors


_LOCK_PARENTS = """
SELECT id FROM records_record WHERE application_id = %s AND id = ANY(%s)
ORDER BY id FOR KEY SHARE
"""


def _missing_parents(application_id, parent_ids) -> set[str]:
    """The wanted parents that do not exist; the others stay locked (`FOR KEY SHARE`) until
    the transaction ends, so they cannot be deleted under the children being written."""
    wanted = {p for p in parent_ids if p}
    if not wanted:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_PARENTS, [application_id, sorted(wanted)])
        return wanted - {row[0] for row in cursor.fetchall()}


def _build(caller, klass, prepared: _Prepared, stamp: int) -> Record:
    return new_record(
        klass,
        id=new_object_id(stamp),
        application_id=klass.application_id,
        parent_id=prepared.parent_id,
        user_id=caller.user_id,
        created_at=stamp,
        updated_at=stamp,
        data=prepared.values,
        **prepared.columns,
    )


def record_create(*, caller, klass, data, form: bool = False) -> Record:
    """One record owned by the caller. Unknown fields, bad values, a missing parent or a
    record over 128 KB are a 422; a class that does not let the caller create, a 403.
    Without a parent this is one INSERT and nothing else."""
    check_create(caller, klass)
    prepared, errors = _prepare(klass, data, form=form)
    if errors:
        raise Unprocessable(errors)
    if prepared.parent_id is None:
        return _insert(caller, klass, prepared)
    if caller.guard is not None:  # the parent is read first: read the session too
        raise Unconfirmed
    return _insert_child(caller, klass, prepared)


@atomic_with_retry
def _insert_child(caller, klass, prepared: _Prepared) -> Record:
    """The parent locked and the child written in one transaction, run again when
    PostgreSQL breaks a deadlock with deletes of that parent (config/transactions.py)."""
    if _missing_parents(klass.application_id, [prepared.parent_id]):
        raise Unprocessable({"_parent_id": ["no record of this application has this _id"]})
    return _insert(caller, klass, prepared)


def _insert(caller, klass, prepared: _Prepared) -> Record:
    record = _build(caller, klass, prepared, now())
    if not insert(record, caller.guard):  # a guarded caller's session is not as read
        raise Unconfirmed
    return record


def batch_items(raw, *, what: str = "record") -> list[tuple[str, object]]:
    """`{"0": {...}, "1": {...}}` (numeric keys, in numeric order) or a JSON array ->
    [(index, item)]; at most 100."""
    if isinstance(raw, list):
        items = [(str(i), item) for i, item in enumerate(raw)]
    elif is_index_map(raw):
        items = [(k, raw[k]) for k in sorted(raw, key=int)]
    elif raw == {}:
        items = []
    else:
        raise Unprocessable({what: ['must be {"1": {...}, "2": {...}} or an array']})
    if not items:
        raise Unprocessable({what: ["must hold at least one record"]})
    if len(items) > MAX_BATCH:
        raise Unprocessable({what: [f"at most {MAX_BATCH} records per request"]})
    return items


@atomic_with_retry
def records_create_multi(*, caller, klass, items, form: bool = False) -> list[Record]:
    """Several records, all or nothing: errors are keyed by each bad record's index."""
    check_create(caller, klass)
    prepared, errors = {}, {}
    for index, data in batch_items(items):
        prepared[index], item_errors = _prepare(klass, data, form=form)
        if item_errors:
            errors[index] = item_errors
    missing = _missing_parents(
        klass.application_id, [p.parent_id for p in prepared.values() if p is not None]
    )
    for index, item in prepared.items():
        if item is not None and item.parent_id in missing:
            errors.setdefault(index, {})["_parent_id"] = [
                "no record of this application has this _id"
            ]
    if errors:
        raise Unprocessable(errors)
    stamp = now()
    records = [_build(caller, klass, item, stamp) for item in prepared.values()]
    return Record.objects.bulk_create(records)


# --- update -------------------------------------------------------------------------------


def _locked(klass, ids):
    return Record.objects.select_for_update().filter(object_class=klass, pk__in=ids).order_by("id")


def _check_permission_change(caller, record, plan: UpdatePlan) -> None:
    if plan.columns and not (caller.is_admin or record.user_id == caller.user_id):
        raise Forbidden("Only the record's owner can change its permissions")


def _apply(klass, record, plan: UpdatePlan, stamp: int, removed_files: list) -> None:
    errors = plan.apply(record, removed_files)
    if errors:
        raise Unprocessable(errors)
    if message := size_error(record.data):
        raise Unprocessable({"base": [message]})
    record.updated_at = stamp


UPDATE_FIELDS = [
    "data",
    "parent_id",
    "updated_at",
    *(f"{a}_{c}" for a in ("read", "update", "delete") for c in ("access", "ids", "groups")),
]


def _changed_fields(plans) -> list[str]:
    """The columns a bulk update writes: `data` and `updated_at` always, the parent and the
    permission columns only when a plan sets them. Django builds a CASE per column and row,
    so writing the nine permission columns of 100 records for nothing cost seconds."""
    fields = ["data", "updated_at"]
    if any(plan.parent_given for plan in plans):
        fields.append("parent_id")
    if any(plan.columns for plan in plans):
        fields += UPDATE_FIELDS[3:]
    return fields


def _plan(klass, changes, form: bool) -> UpdatePlan:
    plan, errors = plan_update(klass, changes, form=form)
    if errors:
        raise Unprocessable(errors)
    return plan


def _check_parents(klass, plans) -> None:
    if _missing_parents(klass.application_id, [plan.parent_id for plan in plans]):
        raise Unprocessable({"_parent_id": ["no record of this application has this _id"]})


# An update of one record that only sets plain fields or increments integers is one UPDATE
# (records.query.inplace). Any other, or one that statement did not write, reads the record,
# changes it in Python and writes it back if nobody wrote it meanwhile: two statements, no
# transaction, no lock held across a round trip. After this many lost races in a row it
# takes the row lock instead, which always finishes.
OPTIMISTIC_ATTEMPTS = 3


def record_update(*, caller, klass, record_id: str, changes, form: bool = False) -> Record:
    """Change one record: plain fields are set (null clears), operators apply to the row as
    it is when written. 404 if it does not exist, 403 if the caller may not update it."""
    plan = _plan(klass, changes, form)
    if caller.guard is not None:
        return _guarded_update(caller, klass, record_id, plan)
    if plan.parent_given and plan.parent_id:
        # The parent's existence and the write go in one transaction.
        return _record_update_locked(caller, klass, record_id, plan)
    if not is_object_id(record_id):
        raise NotFound("Record not found")
    written = update_in_place(caller, klass, record_id, plan, now())
    if written is not None:  # plain fields and counters, in one statement
        return written
    for _ in range(OPTIMISTIC_ATTEMPTS):
        found = record_by_id(klass, record_id)
        if found is None:
            raise NotFound("Record not found")
        record, row_version = found
        removed = _change(caller, klass, record, plan)
        if write_if_unchanged(record, row_version):
            schedule_file_deletion(removed)
            return record
    return _record_update_locked(caller, klass, record_id, plan)


def _guarded_update(caller, klass, record_id: str, plan: UpdatePlan) -> Record:
    """An update for a caller whose session this request has not read (Caller.guard): the
    one statement that checks the session as it writes, or nothing. Whatever it does not
    write (another kind of change, a missing or forbidden record, a session no longer as
    read) is done again once the session is read."""
    written = None
    if is_object_id(record_id):  # a parent given is not a change update_in_place writes
        written = update_in_place(caller, klass, record_id, plan, now())
    if written is None:
        raise Unconfirmed
    return written


def _change(caller, klass, record, plan: UpdatePlan) -> list:
    """Check and apply `plan` to `record` in memory; answers the File values it removed."""
    check(caller, record, "update", klass)
    _check_permission_change(caller, record, plan)
    removed: list = []
    _apply(klass, record, plan, now(), removed)
    if plan.parent_id == record.pk:
        raise Unprocessable({"_parent_id": ["a record cannot be its own parent"]})
    return removed


@atomic_with_retry
def _record_update_locked(caller, klass, record_id: str, plan: UpdatePlan) -> Record:
    if _missing_parents(klass.application_id, [plan.parent_id]):
        raise Unprocessable({"_parent_id": ["no record of this application has this _id"]})
    found = record_for_update(klass, record_id)
    if found is None:
        raise NotFound("Record not found")
    record, row_version = found
    removed = _change(caller, klass, record, plan)
    if not write_if_unchanged(record, row_version):  # the row is locked: it cannot change
        raise RuntimeError(f"record {record_id} changed under its row lock")
    schedule_file_deletion(removed)
    return record


@atomic_with_retry
def records_update_by_criteria(*, caller, klass, criteria, changes, form: bool = False):
    """Apply `changes` to every record matched by `criteria` that the caller may update.
    Answers (total changed, the first 100 changed records)."""
    if not criteria:
        raise Unprocessable({"search_criteria": ["are required"]})
    plan = _plan(klass, changes, form)
    _check_parents(klass, [plan])
    queryset = matching(klass, criteria, caller, "update")
    if plan.columns and not caller.is_admin:
        queryset = queryset.filter(user_id=caller.user_id)
    records = list(queryset.select_for_update())
    stamp, removed = now(), []
    for record in records:
        _apply(klass, record, plan, stamp, removed)
    _write_changed(records, plan, stamp)
    schedule_file_deletion(removed)
    return len(records), records[:MAX_BATCH]


def _write_changed(records, plan: UpdatePlan, stamp: int, batch: int = 500) -> None:
    """One UPDATE per batch of records: `data` differs per record (a CASE on the id), what
    the plan sets alike for all of them (time, parent, permissions) is a plain value. Django's
    bulk_update would write a CASE per column and row, seconds for a hundred records; two
    statements would journal every record twice."""
    same = {"updated_at": stamp, **plan.columns}
    if plan.parent_given:
        same["parent_id"] = plan.parent_id
    for start in range(0, len(records), batch):
        chunk = records[start : start + batch]
        data = Case(
            *(When(pk=r.pk, then=Value(r.data, output_field=JSONField())) for r in chunk),
            output_field=JSONField(),
        )
        Record.objects.filter(pk__in=[r.pk for r in chunk]).update(data=data, **same)


@dataclass
class MultiUpdate:
    records: list
    not_found: list
    wrong_permissions: list


@atomic_with_retry
def records_update_multi(*, caller, klass, items, form: bool = False) -> MultiUpdate:
    """`{"1": {"id": ..., ...changes}}`: records that do not exist or that the caller may not
    update are reported, not failed; a bad change is a 422 keyed by index, nothing stored."""
    plans, errors = [], {}
    for index, item in batch_items(items):
        record_id = item.get("id") or item.get("_id") if isinstance(item, dict) else None
        if not isinstance(record_id, str):
            errors[index] = {"id": ["is required"]}
            continue
        plan, item_errors = plan_update(klass, item, form=form)
        if item_errors:
            errors[index] = item_errors
        plans.append((index, record_id, plan))
    if errors:
        raise Unprocessable(errors)
    ids = [record_id for _, record_id, _ in plans if is_object_id(record_id)]
    found = {r.pk: r for r in _locked(klass, ids)}
    result, stamp, removed = MultiUpdate([], [], []), now(), []
    for index, record_id, plan in plans:
        record = found.get(record_id)
        if record is None:
            result.not_found.append(record_id)
        elif not can(caller, record, "update", klass) or (
            plan.columns and not (caller.is_admin or record.user_id == caller.user_id)
        ):
            result.wrong_permissions.append(record_id)
        else:
            try:
                _apply(klass, record, plan, stamp, removed)
            except Unprocessable as exc:
                raise Unprocessable({index: exc.errors}) from None
            result.records.append(record)
    if _missing_parents(klass.application_id, [p.parent_id for _, _, p in plans]):
        raise Unprocessable({"_parent_id": ["no record of this application has this _id"]})
    Record.objects.bulk_update(result.records, _changed_fields([p for _, _, p in plans]))
    schedule_file_deletion(removed)
    return result


# --- delete -------------------------------------------------------------------------------

_DESCENDANTS = """
WITH RECURSIVE tree(id) AS (
    SELECT id FROM records_record WHERE application_id = %s AND parent_id = ANY(%s)
  UNION
    SELECT r.id FROM records_record r JOIN tree t ON r.parent_id = t.id
    WHERE r.application_id = %s
)
SELECT id FROM tree
"""


def _descendants(application_id: int, ids: list[str]) -> list[str]:
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_DESCENDANTS, [application_id, list(ids), application_id])
        return [row[0] for row in cursor.fetchall()]


def _file_values(application_id: int, ids: list[str]) -> list:
    """The File-field values of these records, whatever their classes. Classes without a
    File field cost nothing: their rows are not read."""
    from classes.models import Field

    file_fields: dict[int, list[str]] = {}
    for class_id, name in Field.objects.filter(
        object_class__application_id=application_id, type=FieldType.FILE
    ).values_list("object_class_id", "name"):
        file_fields.setdefault(class_id, []).append(name)
    if not file_fields or not ids:
        return []
    rows = Record.objects.filter(pk__in=ids, object_class_id__in=file_fields).values_list(
        "object_class_id", "data"
    )
    return [
        data.get(name)
        for class_id, data in rows
        for name in file_fields[class_id]
        if isinstance(data, dict) and data.get(name)
    ]


def _lock_trees(application_id: int, ids: list[str]) -> set[str]:
    """Lock the records `ids` and every record below them, in ascending `_id` order, and
    answer the ids of those that exist. Locking happens in rounds: the tree is read, its
    records locked, then read again, until a round finds nothing new (a child committed
    between the read and the lock). Once a parent is locked, no new child can join it."""
    seen: set[str] = set()
    locked: set[str] = set()
    while True:
        fresh = {*ids, *_descendants(application_id, ids)} - seen
        if not fresh:
            return locked
        seen |= fresh
        locked.update(
            Record.objects.select_for_update()
            .filter(application_id=application_id, pk__in=fresh)
            .order_by("id")
            .values_list("pk", flat=True)
        )


def _delete_with_children(application_id: int, ids: list[str]) -> int:
    """Delete records, every record below them through `_parent_id`, and their files. The
    caller has locked them with `_lock_trees`, so the tree read here is the final one."""
    doomed = list(dict.fromkeys([*ids, *_descendants(application_id, ids)]))
    schedule_file_deletion(_file_values(application_id, doomed))
    deleted, _ = Record.objects.filter(application_id=application_id, pk__in=doomed).delete()
    return deleted


@atomic_with_retry
def record_delete(*, caller, klass, record_id: str) -> None:
    """One record (and its children): 404 if it does not exist, 403 if not permitted."""
    if not is_object_id(record_id):
        raise NotFound("Record not found")
    _lock_trees(klass.application_id, [record_id])
    record = Record.objects.filter(object_class=klass, pk=record_id).first()
    if record is None:
        raise NotFound("Record not found")
    check(caller, record, "delete", klass)
    _delete_with_children(klass.application_id, [record.pk])


@dataclass
class MultiDelete:
    deleted: list
    not_found: list
    wrong_permissions: list


@atomic_with_retry
def records_delete(*, caller, klass, record_ids: list[str]) -> MultiDelete:
    """Several records by id: each is deleted, not found, or refused."""
    wanted = sorted({i for i in record_ids if is_object_id(i)})
    _lock_trees(klass.application_id, wanted)
    found = {r.pk: r for r in Record.objects.filter(object_class=klass, pk__in=wanted)}
    result = MultiDelete([], [], [])
    for record_id in dict.fromkeys(record_ids):
        record = found.get(record_id)
        if record is None:
            result.not_found.append(record_id)
        elif can(caller, record, "delete", klass):
            result.deleted.append(record_id)
        else:
            result.wrong_permissions.append(record_id)
    _delete_with_children(klass.application_id, result.deleted)
    return result


@atomic_with_retry
def records_delete_by_criteria(*, caller, klass, criteria) -> int:
    """Every record matched by `criteria` that the caller may delete (and their children).
    Answers how many matched records were deleted; empty criteria are refused."""
    if not criteria:
        raise Unprocessable({"base": ["search criteria are required to delete by criteria"]})
    candidates = matching(klass, criteria, caller, "delete")
    _lock_trees(klass.application_id, list(candidates.values_list("pk", flat=True)))
    # Matched again under the locks: a record changed meanwhile is judged as it is now.
    ids = list(candidates.values_list("pk", flat=True))
    _delete_with_children(klass.application_id, ids)
    return len(ids)
