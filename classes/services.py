"""Writes for class schemas: classes, fields, class permissions, indexes, import and export.

Every function takes keyword arguments, answers the model (or a summary), and refuses bad
input with `Unprocessable` keyed by field (API.md §3, §4, §8).

Indexes. A field marked `indexed` has one expression index on `records_record`, limited to
its class; the SQL comes from `records.query.expressions.index_statements` so it matches the
expression the query compiler writes. All classes share one table, so an index is built and
dropped CONCURRENTLY: writes to every class go on while it builds. PostgreSQL refuses
CONCURRENTLY inside a transaction, so index work runs after the schema change commits; when
the caller holds an open transaction (a test, a script inside `atomic`) it falls back to the
plain statement, which is correct but blocks writes to the table until that transaction ends.
"""

import json
import re

from django.db import DatabaseError, IntegrityError, connection, transaction

from classes.models import (
    ACTIONS,
    LEVELS,
    NAME_RE,
    RESERVED_FIELD_NAMES,
    Field,
    FieldType,
    ObjectClass,
    default_class_permissions,
)
from classes.types import CoercionError, coerce_boolean
from config.api.errors import Unprocessable
from config.api.indexes import index_map_values, is_index_map

NAME_RULE = "must start with a letter, then letters, digits or _; at most 64 characters"
TYPE_NAMES = tuple(t.value for t in FieldType)
_GROUP_KEYS = ("groups", "users_groups", "user_groups")
_ID_KEYS = ("ids", "users_ids", "user_ids")
_ACTION_KEYS = {"access", "use_class_permissions", *_GROUP_KEYS, *_ID_KEYS}


# --- names and types -------------------------------------------------------------------------


def _name_errors(name, *, reserved=frozenset()) -> list[str]:
    if isinstance(name, str) and name in reserved:
        return [f"'{name}' is reserved"]
    if not isinstance(name, str) or not NAME_RE.match(name):
        return [NAME_RULE]
    return []


def class_name_errors(name) -> list[str]:
    return _name_errors(name)


def field_name_errors(name) -> list[str]:
    return _name_errors(name, reserved=RESERVED_FIELD_NAMES)


def normalize_type(value) -> str:
    """'Integer', 'integer' -> 'integer'; anything else raises CoercionError."""
    if isinstance(value, str) and value.strip().lower() in TYPE_NAMES:
        return value.strip().lower()
    raise CoercionError("must be one of " + ", ".join(TYPE_NAMES))


def _field_specs(fields) -> list[dict]:
    """Accept [{"name", "type", "indexed"?}, ...] or {"name": "type", ...}."""
    if isinstance(fields, dict):
        return [{"name": name, "type": type_} for name, type_ in fields.items()]
    if isinstance(fields, list | tuple):
        return list(fields)
    raise Unprocessable({"fields": ["must be a list of fields"]})


def field_spec_errors(spec: dict) -> tuple[dict | None, dict]:
    """One field spec -> (clean spec, errors keyed name/type/indexed)."""
    errors = {}
    name = spec.get("name")
    if problems := field_name_errors(name):
        errors["name"] = problems
    try:
        type_ = normalize_type(spec.get("type"))
    except CoercionError as exc:
        errors["type"] = [str(exc)]
    try:
        indexed = coerce_boolean(spec.get("indexed", False))
    except CoercionError:
        errors["indexed"] = ["must be true or false"]
    unknown = set(spec) - {"name", "type", "indexed"}
    if unknown:
        errors["base"] = ["unknown keys: " + ", ".join(sorted(unknown))]
    if errors:
        return None, errors
    return {"name": name, "type": type_, "indexed": indexed}, {}


def _clean_fields(specs: list, *, errors: dict, prefix: str = "fields") -> list[dict]:
    """Validate field specs; collect errors under `prefix.<name>`; answer the clean ones."""
    clean, seen = [], set()
    for index, spec in enumerate(specs):
        if not isinstance(spec, dict):
            errors[f"{prefix}[{index}]"] = ["must be an object with name and type"]
            continue
        name = spec.get("name")
        key = f"{prefix}.{name}" if isinstance(name, str) and name else f"{prefix}[{index}]"
        result, problems = field_spec_errors(spec)
        if result is not None and result["name"] in seen:
            problems = {"name": ["is given twice"]}
        if problems:
            errors[key] = [
                msg if part in ("name", "base") else f"{part} {msg}"
                for part, messages in problems.items()
                for msg in messages
            ]
            continue
        seen.add(name)
        clean.append(result)
    return clean


# --- class permissions -----------------------------------------------------------------------


def _as_list(value) -> list:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if is_index_map(value):  # g[0]=a from a form
        return index_map_values(value)
    if isinstance(value, list | tuple):
        return list(value)
    raise CoercionError("must be a list or a comma-separated string")


def _clean_groups(value) -> list[str]:
    groups = []
    for item in _as_list(value):
        if not isinstance(item, str) or not item.strip() or len(item.strip()) > 100:
            raise CoercionError("groups must be names of 1-100 characters")
        if item.strip() not in groups:
            groups.append(item.strip())
    return groups


def _clean_ids(value) -> list[int]:
    ids = []
    for item in _as_list(value):
        if isinstance(item, bool):
            raise CoercionError("ids must be user ids (integers)")
        try:
            number = int(item.strip()) if isinstance(item, str) else int(item)
        except (TypeError, ValueError):
            raise CoercionError("ids must be user ids (integers)") from None
        if isinstance(item, float) and not item.is_integer() or number <= 0:
            raise CoercionError("ids must be user ids (positive integers)")
        if number not in ids:
            ids.append(number)
    return ids


def _first(entry: dict, keys: tuple):
    for key in keys:
        if key in entry:
            return entry[key]
    return None


def _normalize_action(action: str, entry) -> dict:
    """One action's entry -> {"access", "groups"/"ids" when needed, "use_class_permissions"}."""
    if isinstance(entry, str):
        entry = {"access": entry}
    if not isinstance(entry, dict):
        raise CoercionError("must be an object with access")
    unknown = set(entry) - _ACTION_KEYS
    if unknown:
        raise CoercionError("unknown keys: " + ", ".join(sorted(unknown)))
    default = default_class_permissions()[action]
    access = entry.get("access", default["access"])
    if access not in LEVELS:
        raise CoercionError("access must be one of " + ", ".join(LEVELS))
    if action == "create" and access == "owner":
        raise CoercionError("owner is not a level for create (a new record has no owner yet)")
    out = {"access": access}
    if access == "open_for_groups":
        groups = _clean_groups(_first(entry, _GROUP_KEYS) or [])
        if not groups:
            raise CoercionError("open_for_groups needs groups")
        out["groups"] = groups
    if access == "open_for_users_ids":
        ids = _clean_ids(_first(entry, _ID_KEYS) or [])
        if not ids:
            raise CoercionError("open_for_users_ids needs ids")
        out["ids"] = ids
    switch = entry.get("use_class_permissions", False)
    switch = coerce_boolean(switch) if switch not in (None, "") else False
    if action == "create":
        if switch:
            raise CoercionError("use_class_permissions applies to read, update and delete only")
    else:
        out["use_class_permissions"] = switch
    return out


def normalize_class_permissions(data, *, base: dict | None = None) -> dict:
    """Class permissions (API.md §4) in their stored shape, one entry per action.

    Actions left out keep `base` (the defaults unless given). Levels: open, owner (not for
    create), not_allowed, open_for_groups (needs `groups`), open_for_users_ids (needs `ids`,
    integers). Lists may be comma-separated strings; `users_ids`/`user_ids` and
    `users_groups`/`user_groups` are accepted for `ids` and `groups`. Errors are keyed by
    action.
    """
    result = {**default_class_permissions(), **(base or {})}
    if data in (None, ""):
        return result
    if not isinstance(data, dict):
        raise Unprocessable({"permissions": ["must be an object keyed by action"]})
    errors = {}
    for action, entry in data.items():
        if action not in ACTIONS:
            errors[str(action)] = ["is not an action (create, read, update, delete)"]
            continue
        try:
            result[action] = _normalize_action(action, entry)
        except CoercionError as exc:
            errors[action] = [str(exc)]
    if errors:
        raise Unprocessable(errors)
    return result


def _permission_errors(data, *, prefix: str, errors: dict, base=None) -> dict | None:
    try:
        return normalize_class_permissions(data, base=base)
    except Unprocessable as exc:
        for key, messages in exc.errors.items():
            errors[f"{prefix}.{key}" if key != "permissions" else prefix] = messages
        return None


# --- indexes ---------------------------------------------------------------------------------


def _index_statements(field: Field) -> tuple[str, str]:
    from records.query.expressions import index_statements

    return index_statements(field.object_class, field)


def _execute_ddl(sql: str) -> None:
    if not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(sql)
        return
    # CONCURRENTLY is refused inside a transaction; the plain form builds the same index.
    # Deferred foreign-key checks of rows written earlier in the transaction must run
    # first, or PostgreSQL refuses the DDL ("pending trigger events"), as in Django's
    # own schema editor.
    # The savepoint keeps the caller's transaction usable if the statement fails.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(sql.replace(" CONCURRENTLY", "", 1))
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def index_build(field: Field) -> None:
    """Create the field's index (dropping a leftover, possibly invalid one of the same name
    first: a failed CONCURRENTLY build leaves an INVALID index behind)."""
    create_sql, drop_sql = _index_statements(field)
    _execute_ddl(drop_sql)
    try:
        _execute_ddl(create_sql)
    except DatabaseError as exc:
        if not connection.in_atomic_block:
            _execute_ddl(drop_sql)
        raise Unprocessable({"indexed": [f"the index could not be built: {exc}"]}) from None


def index_drop(field: Field) -> None:
    _execute_ddl(_index_statements(field)[1])


FIELD_INDEX_RE = re.compile(r"\Arecord_c(\d+)_f(\d+)\Z")


def orphan_indexes() -> list[str]:
    """Field indexes on the records table whose field is gone or no longer indexed: left by
    classes deleted through a cascade (deleting an application) rather than `class_delete`,
    or by an interrupted unmark."""
    from records.query.expressions import index_name

    wanted = {
        index_name(field.object_class, field)
        for field in Field.objects.filter(indexed=True).select_related("object_class")
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'records_record'")
        names = [row[0] for row in cursor.fetchall()]
    return sorted(n for n in names if FIELD_INDEX_RE.match(n) and n not in wanted)


def drop_orphan_indexes() -> list[str]:
    """Drop every index of `orphan_indexes()`; answers their names."""
    names = orphan_indexes()
    for name in names:
        _execute_ddl(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
    return names


# --- classes ---------------------------------------------------------------------------------


def class_create(*, application, name, fields, permissions=None) -> ObjectClass:
    """A new class with at least one field; indexed fields get their index."""
    errors = {}
    if problems := class_name_errors(name):
        errors["name"] = problems
    elif ObjectClass.objects.filter(application=application, name=name).exists():
        errors["name"] = ["a class with this name already exists"]
    specs = _field_specs(fields)
    clean = _clean_fields(specs, errors=errors)
    if not specs:
        errors["fields"] = ["a class needs at least one field"]
    perms = _permission_errors(permissions, prefix="permissions", errors=errors)
    if errors:
        raise Unprocessable(errors)
    klass = _class_insert(application=application, name=name, fields=clean, permissions=perms)
    pending = {f["name"] for f in clean if f["indexed"]}
    for field in klass.fields.filter(name__in=pending):
        field_set_indexed(field=field, indexed=True)
    return klass


@transaction.atomic
def _class_insert(*, application, name, fields, permissions) -> ObjectClass:
    try:
        with transaction.atomic():
            klass = ObjectClass.objects.create(
                application=application, name=name, permissions=permissions
            )
    except IntegrityError:  # a concurrent create of the same name
        raise Unprocessable({"name": ["a class with this name already exists"]}) from None
    # Marked indexed only once the index exists (field_set_indexed, after commit).
    Field.objects.bulk_create(
        Field(object_class=klass, name=f["name"], type=f["type"], position=i)
        for i, f in enumerate(fields)
    )
    return klass


def class_update_permissions(*, klass: ObjectClass, permissions) -> ObjectClass:
    """Set the class permissions; actions left out keep their current value. Errors are
    keyed by action."""
    klass.permissions = normalize_class_permissions(permissions, base=klass.permissions)
    klass.save(update_fields=["permissions", "updated_at"])
    return klass


def class_delete(*, klass: ObjectClass) -> int:
    """Delete the class, its fields, its indexes and its records (and, as deleting any record
    does, the records of the application whose `_parent_id` is one of them, recursively,
    with their files). Answers how many records were deleted."""
    for field in klass.fields.filter(indexed=True):
        field_set_indexed(field=field, indexed=False)  # the flag never outlives the index
    return _class_delete_rows(klass)


@transaction.atomic
def _class_delete_rows(klass: ObjectClass) -> int:
    """One statement deletes the class's records and their descendants; it hands back only
    what the file cleanup needs (the data of records of classes that have File fields)."""
    file_fields: dict[int, list[str]] = {}
    for class_id, name in Field.objects.filter(
        object_class__application_id=klass.application_id, type=FieldType.FILE
    ).values_list("object_class_id", "name"):
        file_fields.setdefault(class_id, []).append(name)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH RECURSIVE doomed(id) AS (
                SELECT id FROM records_record WHERE object_class_id = %s
                UNION
                SELECT r.id FROM records_record r JOIN doomed d ON r.parent_id = d.id
                WHERE r.application_id = %s
            ), gone AS (
                DELETE FROM records_record r USING doomed d WHERE r.id = d.id
                RETURNING r.object_class_id, r.data
            )
            SELECT count(*), jsonb_agg(jsonb_build_array(object_class_id, data))
                FILTER (WHERE object_class_id = ANY(%s))
            FROM gone
            """,
            [klass.pk, klass.application_id, list(file_fields)],
        )
        deleted, with_files = cursor.fetchone()
    values = []
    for class_id, data in _loads(with_files) or []:
        values.extend((data or {}).get(name) for name in file_fields[class_id])
    _schedule_file_values([v for v in values if v])
    klass.delete()
    return deleted


def _loads(data):
    return json.loads(data) if isinstance(data, str) else data


def _schedule_file_values(values: list) -> None:
    if not values:
        return
    from blobs.files import schedule_file_deletion

    schedule_file_deletion(values)


# --- fields ----------------------------------------------------------------------------------


def field_add(*, klass: ObjectClass, name, type, indexed=False) -> Field:
    """Add a field at the end; old records hold no value for it (null)."""
    clean, errors = field_spec_errors({"name": name, "type": type, "indexed": indexed})
    if clean and klass.fields.filter(name=name).exists():
        errors["name"] = ["a field with this name already exists"]
    if errors:
        raise Unprocessable(errors)
    field = _field_insert(klass=klass, spec=clean)
    if clean["indexed"]:
        field_set_indexed(field=field, indexed=True)
    return field


@transaction.atomic
def _field_insert(*, klass: ObjectClass, spec: dict) -> Field:
    last = klass.fields.order_by("-position").values_list("position", flat=True).first()
    try:
        with transaction.atomic():
            field = Field.objects.create(
                object_class=klass,
                name=spec["name"],
                type=spec["type"],
                position=0 if last is None else last + 1,
            )
    except IntegrityError:
        raise Unprocessable({"name": ["a field with this name already exists"]}) from None
    klass._field_map = None
    return field


def records_affected(field: Field) -> int:
    """How many records of the field's class hold a (non-null) value for it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM records_record WHERE object_class_id = %s"
            " AND data ? %s AND data -> %s <> 'null'::jsonb",
            [field.object_class_id, field.name, field.name],
        )
        return cursor.fetchone()[0]


def field_remove(*, field: Field) -> int:
    """Remove the field and its value from every record of the class (one UPDATE); drop its
    index. Answers how many records had a value."""
    if field.indexed:
        field_set_indexed(field=field, indexed=False)  # the flag never outlives the index
    return _field_delete_values(field)


@transaction.atomic
def _field_delete_values(field: Field) -> int:
    with connection.cursor() as cursor:
        if field.type == FieldType.FILE:
            cursor.execute(
                "SELECT data -> %s FROM records_record WHERE object_class_id = %s AND data ? %s",
                [field.name, field.object_class_id, field.name],
            )
            _schedule_file_values([_loads(v) for (v,) in cursor.fetchall() if v])
        cursor.execute(
            """
            WITH old AS (
                SELECT id, data -> %s <> 'null'::jsonb AS had FROM records_record
                WHERE object_class_id = %s AND data ? %s FOR UPDATE
            ), changed AS (
                UPDATE records_record r SET data = r.data - %s FROM old
                WHERE r.id = old.id RETURNING old.had
            )
            SELECT count(*) FILTER (WHERE had) FROM changed
            """,
            [field.name, field.object_class_id, field.name, field.name],
        )
        had = cursor.fetchone()[0]
    field.delete()
    return had


def field_set_indexed(*, field: Field, indexed) -> Field:
    """Build or drop the field's index. The flag is set once the index exists, and cleared
    before it is dropped, so the flag never promises an index that is not there."""
    indexed = bool(indexed)
    if indexed == field.indexed:
        return field
    if indexed:
        index_build(field)
        field.indexed = True
        field.save(update_fields=["indexed"])
    else:
        field.indexed = False
        field.save(update_fields=["indexed"])
        index_drop(field)
    return field


# --- import and export -----------------------------------------------------------------------


def _permissions_out(klass: ObjectClass) -> dict:
    return normalize_class_permissions(None, base=klass.permissions)


def classes_export(*, application) -> dict:
    """Every class of the application as the schema JSON of API.md §8."""
    out = []
    for klass in ObjectClass.objects.filter(application=application).prefetch_related("fields"):
        fields = []
        for field in klass.fields.all():
            entry = {"name": field.name, "type": field.type}
            if field.indexed:
                entry["indexed"] = True
            fields.append(entry)
        out.append({"name": klass.name, "fields": fields, "permissions": _permissions_out(klass)})
    return {"classes": out}


def _import_plan(application, data) -> list[dict]:
    """Validate the whole file first: one 422 lists every problem, and nothing is written."""
    if isinstance(data, list):
        data = {"classes": data}
    if not isinstance(data, dict) or not isinstance(data.get("classes"), list):
        raise Unprocessable({"classes": ['the file must be {"classes": [...]}']})
    existing = {
        k.name: k
        for k in ObjectClass.objects.filter(application=application).prefetch_related("fields")
    }
    errors, plan, seen = {}, [], set()
    for index, entry in enumerate(data["classes"]):
        name = entry.get("name") if isinstance(entry, dict) else None
        key = name if isinstance(name, str) and name else f"classes[{index}]"
        if not isinstance(entry, dict):
            errors[key] = ["must be an object with name, fields and permissions"]
            continue
        if problems := class_name_errors(name):
            errors[f"{key}.name"] = problems
            continue
        if name in seen:
            errors[key] = ["is given twice"]
            continue
        seen.add(name)
        unknown = set(entry) - {"name", "fields", "permissions"}
        if unknown:
            errors[key] = ["unknown keys: " + ", ".join(sorted(unknown))]
        plan.append(_plan_class(entry, existing.get(name), key=key, errors=errors))
    if errors:
        raise Unprocessable(errors)
    return plan


def _plan_class(entry: dict, klass, *, key: str, errors: dict) -> dict:
    specs = entry.get("fields", [])
    if not isinstance(specs, list):
        errors[f"{key}.fields"] = ["must be a list of fields"]
        specs = []
    fields = _clean_fields(specs, errors=errors, prefix=f"{key}.fields")
    if klass is None and not specs:
        errors[f"{key}.fields"] = ["a class needs at least one field"]
    perms = None
    if "permissions" in entry or klass is None:
        perms = _permission_errors(
            entry.get("permissions"), prefix=f"{key}.permissions", errors=errors
        )
    current = klass.field_map() if klass is not None else {}
    for spec in fields:
        have = current.get(spec["name"])
        if have is not None and have.type != spec["type"]:
            errors[f"{key}.fields.{spec['name']}"] = [
                f"exists as {have.type}; the file says {spec['type']}"
            ]
    return {"name": entry.get("name"), "klass": klass, "fields": fields, "permissions": perms}


def classes_import(*, application, data) -> dict:
    """Create the classes of a schema file; a class that exists gets its missing fields and,
    when the file gives them, its permissions. All or nothing; then the indexes are built,
    each on its own: one that fails is reported in `indexes_failed` and its field stays
    unindexed. Answers {"created": [...], "updated": [...], "fields_added": {class: [names]},
    "indexes_built": {class: [names]}, "indexes_failed": {class: {field: message}}}."""
    plan = _import_plan(application, data)
    try:
        summary, to_index = _import_write(application, plan)
    except IntegrityError:  # another import or the console made the same class or field
        raise Unprocessable(
            {"base": ["the schema changed during the import; run it again"]}
        ) from None
    summary["indexes_failed"] = {}
    for field in to_index:
        klass_name = field.object_class.name
        try:
            field_set_indexed(field=field, indexed=True)
        except Unprocessable as exc:
            summary["indexes_failed"].setdefault(klass_name, {})[field.name] = exc.errors[
                "indexed"
            ][0]
            continue
        summary["indexes_built"].setdefault(klass_name, []).append(field.name)
    return summary


@transaction.atomic
def _import_write(application, plan: list[dict]) -> tuple[dict, list[Field]]:
    summary = {"created": [], "updated": [], "fields_added": {}, "indexes_built": {}}
    to_index = []
    for item in plan:
        klass = item["klass"]
        if klass is None:
            klass = ObjectClass.objects.create(
                application=application, name=item["name"], permissions=item["permissions"]
            )
            summary["created"].append(klass.name)
        else:
            if item["permissions"] is not None:
                klass.permissions = item["permissions"]
                klass.save(update_fields=["permissions", "updated_at"])
            summary["updated"].append(klass.name)
        current = {f.name: f for f in klass.fields.all()}
        position = max((f.position for f in current.values()), default=-1) + 1
        for spec in item["fields"]:
            field = current.get(spec["name"])
            if field is None:
                field = Field.objects.create(
                    object_class=klass, name=spec["name"], type=spec["type"], position=position
                )
                position += 1
                summary["fields_added"].setdefault(klass.name, []).append(field.name)
            if spec["indexed"] and not field.indexed:
                to_index.append(field)
    return summary, to_index
