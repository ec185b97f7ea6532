"""Request parameters -> a small query tree (API.md §5), checked against the class schema.

Nothing here builds SQL: every field name is resolved to a schema `Field` (or one of the
system fields) and every value is coerced to that field's type before `compile.py` sees it.
Each filter operator is one function in `OPERATORS`; an unknown operator is a 400 naming it,
an unknown field a 422 naming it, a value of the wrong type a 422 keyed by its field.
"""

import math
from dataclasses import dataclass, field
from typing import Any

from classes.models import FieldType
from classes.types import CoercionError, coerce_array_item, coerce_location, coerce_value
from config.api.errors import ApiError
from config.api.indexes import index_map_values, is_index_map, parse_int

MAX_LIMIT = 100
DEFAULT_LIMIT = 100
CALC_FUNCTIONS = ("avg", "min", "max", "sum", "count")
# Parameters that steer the query rather than name a field. `token` is the session token
# some clients put in the query string.
CONTROL_KEYS = frozenset(
    {"skip", "limit", "count", "sort_asc", "sort_desc", "output", "group_by", "token"}
)
NUMERIC = (FieldType.INTEGER, FieldType.FLOAT)
ORDERED = (FieldType.INTEGER, FieldType.FLOAT, FieldType.DATE, FieldType.STRING)
SCALAR = (*ORDERED, FieldType.BOOLEAN)


class QueryError(ApiError):
    """A query the client got wrong: 400 for malformed syntax, 422 for bad names or values."""

    status = 422


@dataclass(frozen=True)
class SystemField:
    """A column every record has, filterable and sortable like a field."""

    name: str
    type: str
    column: str
    pk: None = None


SYSTEM_FIELDS = {
    "_id": SystemField("_id", FieldType.STRING, "id"),
    "_parent_id": SystemField("_parent_id", FieldType.STRING, "parent_id"),
    "user_id": SystemField("user_id", FieldType.INTEGER, "user_id"),
    "created_at": SystemField("created_at", FieldType.INTEGER, "created_at"),
    "updated_at": SystemField("updated_at", FieldType.INTEGER, "updated_at"),
}


@dataclass
class Term:
    field: Any  # classes.models.Field or SystemField
    op: str
    value: Any


@dataclass
class Near:
    field: Any
    lon: float
    lat: float
    radius: float


@dataclass
class Query:
    terms: list[Term] = field(default_factory=list)
    or_terms: list[Term] = field(default_factory=list)
    near: Near | None = None
    sort: list[tuple[Any, bool]] = field(default_factory=list)  # (field, descending)
    skip: int = 0
    limit: int = DEFAULT_LIMIT
    last: bool = False  # limit=-1: only the last record
    count: bool = False
    include: list[str] | None = None
    exclude: list[str] | None = None
    calcs: list[tuple[Any, str]] = field(default_factory=list)  # (field, function)
    group_by: Any = None

    @property
    def is_aggregate(self) -> bool:
        return bool(self.calcs)


# --- values -----------------------------------------------------------------------------


def _fail(name: str, message: str, status: int = 422) -> QueryError:
    return QueryError({name: [message]}, status=status)


def as_list(raw) -> list:
    """`a,b`, `a[]=a&a[]=b`, `a[0]=a`, or a JSON array -> a list of raw values."""
    if isinstance(raw, list):
        return raw
    if is_index_map(raw):
        return index_map_values(raw)
    if isinstance(raw, str):
        return [part.strip() for part in raw.split(",")] if raw != "" else []
    if raw is None or isinstance(raw, dict):
        raise ValueError("not a list")
    return [raw]


def coerce_scalar(fld, raw):
    """One value for a comparison with `fld`; None is SQL NULL."""
    if isinstance(raw, dict | list):
        raise _fail(fld.name, "must be a single value")
    if fld.type == FieldType.ARRAY:
        if raw is None or raw == "null":
            return None
        try:
            return coerce_array_item(raw)
        except CoercionError as exc:
            raise _fail(fld.name, str(exc)) from None
    if isinstance(fld, SystemField) and fld.type == FieldType.STRING:
        return None if raw in (None, "null") else str(raw)
    try:
        return coerce_value(fld.type, raw, form=True)
    except CoercionError as exc:
        raise _fail(fld.name, str(exc)) from None


def _coerce_list(fld, raw) -> list:
    try:
        items = as_list(raw)
    except ValueError:
        raise _fail(fld.name, "must be a list of values") from None
    if not items:
        raise _fail(fld.name, "must be a non-empty list of values")
    return [coerce_scalar(fld, item) for item in items]


def _require(fld, op: str, types) -> None:
    if fld.type not in types:
        raise _fail(fld.name, f"operator '{op}' does not apply to a {fld.type} field")


# --- the operator table -------------------------------------------------------------------
# Each takes (field, raw value) and answers the coerced value for compile.py.


def op_eq(fld, raw):
    if fld.type == FieldType.LOCATION:
        try:
            return coerce_location(raw)
        except CoercionError as exc:
            raise _fail(fld.name, str(exc)) from None
    _require(fld, "eq", (*SCALAR, FieldType.ARRAY))
    return coerce_scalar(fld, raw)


def op_ne(fld, raw):
    _require(fld, "ne", (*SCALAR, FieldType.ARRAY))
    return coerce_scalar(fld, raw)


def op_compare(op):
    def parse(fld, raw):
        _require(fld, op, ORDERED)
        value = coerce_scalar(fld, raw)
        if value is None:
            raise _fail(fld.name, f"operator '{op}' needs a value, not null")
        return value

    return parse


def op_in(op):
    def parse(fld, raw):
        _require(fld, op, (*SCALAR, FieldType.ARRAY))
        return _coerce_list(fld, raw)

    return parse


def op_all(fld, raw):
    _require(fld, "all", (FieldType.ARRAY,))
    return _coerce_list(fld, raw)


def op_ctn(fld, raw):
    _require(fld, "ctn", (FieldType.STRING, *NUMERIC))
    if isinstance(raw, dict | list) or raw is None:
        raise _fail(fld.name, "operator 'ctn' needs a text")
    return str(raw)


def op_near(fld, raw):
    _require(fld, "near", (FieldType.LOCATION,))
    message = "near must be 'longitude,latitude;radius' (radius in metres)"
    if not isinstance(raw, str) or raw.count(";") != 1:
        raise _fail(fld.name, message)
    point, radius = raw.split(";")
    try:
        lon, lat = coerce_location(point)
        radius = float(radius)
    except (CoercionError, ValueError):
        raise _fail(fld.name, message) from None
    if not math.isfinite(radius) or radius < 0:
        raise _fail(fld.name, "near radius must be a non-negative number of metres")
    return Near(fld, lon, lat, radius)


def op_calc(fld, raw):
    try:
        names = as_list(raw)
    except ValueError:
        raise _fail(fld.name, "calc must be one of avg, min, max, sum, count") from None
    for name in names:
        if name not in CALC_FUNCTIONS:
            raise _fail(fld.name, f"calc '{name}' is not one of avg, min, max, sum, count")
        if name != "count":
            _require(fld, f"calc {name}", NUMERIC)
    return list(dict.fromkeys(names))


OPERATORS = {
    "eq": op_eq,
    "ne": op_ne,
    "gt": op_compare("gt"),
    "gte": op_compare("gte"),
    "lt": op_compare("lt"),
    "lte": op_compare("lte"),
    "in": op_in("in"),
    "nin": op_in("nin"),
    "or": op_in("or"),
    "all": op_all,
    "ctn": op_ctn,
    "near": op_near,
    "calc": op_calc,
}


# --- the parameters -----------------------------------------------------------------------


def resolve_field(klass, name: str):
    """A schema field or a system field by name; anything else is a 422 naming it."""
    fld = SYSTEM_FIELDS.get(name) or klass.field_map().get(name)
    if fld is None:
        raise _fail(name, "is not a field of this class")
    return fld


def parse(klass, params: dict, *, criteria_only: bool = False) -> Query:
    """Parameters of a list (or, with criteria_only, a by-criteria request) -> Query."""
    if not isinstance(params, dict):
        raise QueryError("search criteria must be an object", status=400)
    query = Query()
    for key, raw in params.items():
        if key == "token":
            continue
        if key in CONTROL_KEYS and not criteria_only:
            continue
        _parse_condition(query, resolve_field(klass, key), raw)
    if not criteria_only:
        _parse_controls(klass, query, params)
    return query


def _parse_condition(query: Query, fld, raw) -> None:
    if isinstance(raw, dict) and _is_index_map(raw):
        raw = as_list(raw)
    if isinstance(raw, list):  # f[]=a&f[]=b: any of them; for an Array field, all of them
        op = "all" if fld.type == FieldType.ARRAY else "in"
        query.terms.append(Term(fld, op, OPERATORS[op](fld, raw)))
        return
    if not isinstance(raw, dict):
        query.terms.append(Term(fld, "eq", op_eq(fld, raw)))
        return
    if not raw:
        raise _fail(fld.name, "needs an operator", status=400)
    for op, value in raw.items():
        parser = OPERATORS.get(op)
        if parser is None:
            raise _fail(fld.name, f"unknown operator '{op}'", status=400)
        parsed = parser(fld, value)
        if op == "near":
            if query.near is not None:
                raise _fail(fld.name, "only one near condition per query")
            query.near = parsed
        elif op == "calc":
            query.calcs.extend((fld, fn) for fn in parsed)
        elif op == "or":
            query.or_terms.append(Term(fld, "in", parsed))
        else:
            query.terms.append(Term(fld, op, parsed))


def _is_index_map(raw: dict) -> bool:
    return is_index_map(raw)


def _parse_controls(klass, query: Query, params: dict) -> None:
    query.skip = _integer(params, "skip", 0)
    if query.skip < 0:
        raise _fail("skip", "must not be negative")
    query.limit = _integer(params, "limit", DEFAULT_LIMIT)
    if query.limit == -1:
        query.last, query.limit = True, 1
    elif not 0 <= query.limit <= MAX_LIMIT:
        raise _fail("limit", f"must be between 0 and {MAX_LIMIT}, or -1 for the last record")
    query.count = _flag(params.get("count"))
    for key, descending in (("sort_asc", False), ("sort_desc", True)):
        if key in params:
            for name in _names(key, params[key]):
                fld = resolve_field(klass, name)
                _require_sortable(fld, key)
                query.sort.append((fld, descending))
    _parse_output(klass, query, params.get("output"))
    _parse_group_by(klass, query, params.get("group_by"))


def _integer(params: dict, key: str, default: int) -> int:
    raw = params.get(key)
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        raise _fail(key, "must be an integer")
    value = parse_int(str(raw), signed=True)
    if value is None:
        raise _fail(key, "must be an integer")
    return value


def _flag(raw) -> bool:
    return str(raw).strip().lower() in ("1", "true") if raw is not None else False


def _names(key: str, raw) -> list[str]:
    try:
        names = [str(n) for n in as_list(raw) if str(n) != ""]
    except ValueError:
        raise _fail(key, "must be a field name or a comma-separated list of them") from None
    if not names:
        raise _fail(key, "must name a field")
    return names


def _require_sortable(fld, key: str) -> None:
    if fld.type not in SCALAR:
        raise _fail(fld.name, f"a {fld.type} field cannot be used with {key}")


def _parse_output(klass, query: Query, output) -> None:
    if output in (None, ""):
        return
    if not isinstance(output, dict) or set(output) - {"include", "exclude"}:
        raise _fail("output", "use output[include]=a,b or output[exclude]=a,b")
    if "include" in output and "exclude" in output:
        raise _fail("output", "give output[include] or output[exclude], not both")
    for mode, raw in output.items():
        names = _names(f"output[{mode}]", raw)
        for name in names:
            resolve_field(klass, name)
        setattr(query, mode, names)


def _parse_group_by(klass, query: Query, raw) -> None:
    if raw in (None, ""):
        if query.calcs and query.count:
            raise _fail("count", "count cannot be combined with calc")
        return
    if not isinstance(raw, str):
        raise _fail("group_by", "must name one field")
    fld = resolve_field(klass, raw)
    if fld.type not in SCALAR:
        raise _fail(fld.name, f"a {fld.type} field cannot be used with group_by")
    if not query.calcs:
        raise _fail("group_by", "needs at least one field[calc]=avg|min|max|sum|count")
    query.group_by = fld
