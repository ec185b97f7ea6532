"""The changes of an update request, checked once and then applied to each locked record.

    {"age": "22", "job": null}             plain fields: set (null clears)
    {"tags": {"0": "x"}}                   Array element by index
    {"inc": {"age": 1}}                    Integer / Float
    {"push": {"tags": ["a", "b"]}}         Array: append
    {"add_to_set": {"tags": ["a"]}}        Array: append what is not there yet
    {"pull": {"tags": "a"}}                Array: remove a value ...
    {"pull": {"scores": {"gt": 5}}}        ... or every element a filter matches
    {"pull_all": {"tags": ["a", "b"]}}     Array: remove all of these
    {"pop": {"tags": 1}}                   Array: remove the last (1) or first (-1) element
    {"permissions": {...}, "_parent_id": ...}

`plan_update` refuses unknown fields, operators on the wrong type and bad values before any
row is touched; `UpdatePlan.apply` is then pure Python on a row already locked for update.
"""

import math
from dataclasses import dataclass, field

from classes.models import FieldType
from classes.types import (
    INT64_MAX,
    INT64_MIN,
    CoercionError,
    coerce_array,
    coerce_array_item,
    coerce_float,
    coerce_integer,
    coerce_value,
)
from config.api.errors import Unprocessable
from config.api.indexes import as_index, is_index_map
from records.ids import is_object_id
from records.permissions import parse_record_permissions

IGNORED_KEYS = frozenset({"token", "id", "_id", "search_criteria"})
SYSTEM_KEYS = frozenset({"user_id", "created_at", "updated_at"})
NUMERIC = (FieldType.INTEGER, FieldType.FLOAT)


# --- comparing array elements ---------------------------------------------------------------


def _number(value):
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def same(a, b) -> bool:
    """Element equality that forgives a form's strings: "5" matches 5, "true" matches true."""
    if isinstance(a, bool) or isinstance(b, bool):
        return str(a).lower() == str(b).lower() if a is not None and b is not None else a is b
    if a == b:
        return True
    if isinstance(a, str) != isinstance(b, str):
        na, nb = _number(a), _number(b)
        return na is not None and na == nb
    return False


def _ordered(op):
    def test(item, value) -> bool:
        a, b = _number(item), _number(value)
        if a is None or b is None:
            if isinstance(item, str) and isinstance(value, str):
                a, b = item, value
            else:
                return False
        return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]

    return test


PULL_FILTERS = {
    "eq": same,
    "ne": lambda item, value: not same(item, value),
    "gt": _ordered("gt"),
    "gte": _ordered("gte"),
    "lt": _ordered("lt"),
    "lte": _ordered("lte"),
    "in": lambda item, values: any(same(item, v) for v in values),
    "nin": lambda item, values: not any(same(item, v) for v in values),
}


# --- the operator table -------------------------------------------------------------------
# parse: (field, raw) -> argument (CoercionError if bad); apply: (current, argument) -> new.


def _require(fld, op, types):
    if fld.type not in types:
        kinds = " and ".join(t.label for t in types)
        raise CoercionError(f"'{op}' applies to {kinds} fields only")


def parse_inc(fld, raw):
    _require(fld, "inc", NUMERIC)
    return coerce_integer(raw) if fld.type == FieldType.INTEGER else coerce_float(raw)


def apply_inc(fld, current, amount):
    result = (current or 0) + amount
    if fld.type == FieldType.INTEGER and not INT64_MIN <= result <= INT64_MAX:
        raise CoercionError("inc would leave the 64-bit integer range")
    if fld.type == FieldType.FLOAT and not math.isfinite(result):
        raise CoercionError("inc would give a number out of range")
    return result


def parse_items(op):
    def parse(fld, raw):
        _require(fld, op, (FieldType.ARRAY,))
        items = coerce_array(raw if isinstance(raw, list | str | dict) else [raw])
        return [coerce_array_item(item) for item in items]

    return parse


def apply_push(fld, current, items):
    return [*(current or []), *items]


def apply_add_to_set(fld, current, items):
    result = list(current or [])
    for item in items:
        if not any(same(item, present) for present in result):
            result.append(item)
    return result


def parse_pull(fld, raw):
    _require(fld, "pull", (FieldType.ARRAY,))
    if isinstance(raw, dict) and raw and not is_index_map(raw):
        filters = []
        for op, value in raw.items():
            if op not in PULL_FILTERS:
                raise CoercionError(f"unknown pull filter '{op}'")
            if op in ("in", "nin"):
                value = [coerce_array_item(v) for v in coerce_array(value)]
            else:
                value = coerce_array_item(value)
            filters.append((PULL_FILTERS[op], value))
        return ("filter", filters)
    if isinstance(raw, list | dict):
        return ("values", parse_items("pull")(fld, raw))
    return ("values", [coerce_array_item(raw)])


def apply_pull(fld, current, arg):
    kind, spec = arg
    if kind == "filter":
        return [i for i in current or [] if not all(test(i, v) for test, v in spec)]
    return [i for i in current or [] if not any(same(i, v) for v in spec)]


def parse_pop(fld, raw):
    _require(fld, "pop", (FieldType.ARRAY,))
    if str(raw).strip() in ("1", "-1") and not isinstance(raw, bool):
        return int(str(raw).strip())
    raise CoercionError("pop takes 1 (the last element) or -1 (the first)")


def apply_pop(fld, current, end):
    items = list(current or [])
    if items:
        items.pop(-1 if end == 1 else 0)
    return items


UPDATE_OPERATORS = {
    "inc": (parse_inc, apply_inc),
    "push": (parse_items("push"), apply_push),
    "add_to_set": (parse_items("add_to_set"), apply_add_to_set),
    "pull": (parse_pull, apply_pull),
    "pull_all": (parse_items("pull_all"), lambda f, c, items: apply_pull(f, c, ("values", items))),
    "pop": (parse_pop, apply_pop),
}
OPERATOR_ORDER = ("inc", "push", "add_to_set", "pull", "pull_all", "pop")


# --- the plan -----------------------------------------------------------------------------


@dataclass
class UpdatePlan:
    sets: dict = field(default_factory=dict)  # name -> value (None clears)
    index_sets: dict = field(default_factory=dict)  # name -> [(index, item)]
    ops: list = field(default_factory=list)  # (operator, field, argument)
    columns: dict = field(default_factory=dict)  # permission columns
    parent_id: str | None = None
    parent_given: bool = False

    def apply(self, record, removed_files: list) -> dict:
        """Change `record` in place; answers errors by field (empty when all went well).
        File values that a change clears are appended to `removed_files`."""
        data = dict(record.data or {})
        errors = {}
        for name, value in self.sets.items():
            old = data.get(name)
            if value is None:
                data.pop(name, None)
                if isinstance(old, dict) and old.get("file_id"):
                    removed_files.append(old)
            else:
                data[name] = value
        for name, pairs in self.index_sets.items():
            data[name] = _set_indexes(data.get(name), pairs)
        for op, fld, arg in self.ops:
            try:
                data[fld.name] = UPDATE_OPERATORS[op][1](fld, data.get(fld.name), arg)
            except CoercionError as exc:
                errors[fld.name] = [str(exc)]
        record.data = data
        for column, value in self.columns.items():
            setattr(record, column, value)
        if self.parent_given:
            record.parent_id = self.parent_id
        return errors


MAX_INDEX = 10_000


def _set_indexes(current, pairs):
    items = list(current or [])
    for index, item in pairs:
        items.extend([None] * (index + 1 - len(items)))
        items[index] = item
    return items


def plan_update(klass, changes, *, form: bool = False) -> tuple[UpdatePlan, dict]:
    """Check an update body against the class; answers (plan, errors by field)."""
    plan, errors = UpdatePlan(), {}
    if not isinstance(changes, dict):
        return plan, {"base": ["the changes must be an object of fields"]}
    fields = klass.field_map()
    for key, raw in changes.items():
        if key in IGNORED_KEYS:
            continue
        try:
            _plan_key(plan, fields, key, raw, form, errors)
        except CoercionError as exc:
            errors[key] = [str(exc)]
        except Unprocessable as exc:
            errors.update(exc.errors)
    plan.ops.sort(key=lambda op: OPERATOR_ORDER.index(op[0]))
    return plan, errors


def _plan_key(plan, fields, key, raw, form, errors) -> None:
    if key == "permissions":
        plan.columns = parse_record_permissions(raw)
    elif key == "_parent_id":
        plan.parent_given = True
        if raw in (None, "", "null"):
            plan.parent_id = None
        elif not is_object_id(raw):
            raise CoercionError("must be the _id of a record")
        else:
            plan.parent_id = raw
    elif key in UPDATE_OPERATORS:
        _plan_operator(plan, fields, key, raw, errors)
    elif key in SYSTEM_KEYS:
        raise CoercionError("is set by the server")
    elif key not in fields:
        raise CoercionError("is not a field of this class")
    elif isinstance(raw, dict) and fields[key].type == FieldType.ARRAY and raw:
        plan.index_sets[key] = _index_pairs(raw)
    else:
        plan.sets[key] = coerce_value(fields[key].type, raw, form=form)


def _index_pairs(raw: dict) -> list:
    pairs = []
    for index, item in raw.items():
        position = as_index(index)
        if position is None or position > MAX_INDEX:
            raise CoercionError(f"'{index}' is not an element index (0 to {MAX_INDEX})")
        pairs.append((position, coerce_array_item(item)))
    return pairs


def _plan_operator(plan, fields, op, raw, errors) -> None:
    if not isinstance(raw, dict) or not raw:
        raise CoercionError("must be an object of fields")
    parse = UPDATE_OPERATORS[op][0]
    for name, value in raw.items():
        fld = fields.get(name)
        if fld is None:
            errors[name] = ["is not a field of this class"]
            continue
        try:
            plan.ops.append((op, fld, parse(fld, value)))
        except CoercionError as exc:
            errors[name] = [str(exc)]
