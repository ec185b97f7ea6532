"""Turning one parsed row into a record: values coerced by `classes.types` exactly as the API
does, system columns checked, the stored JSON serialised once.

This is the hot path of a large import, so the per-column work is decided once per file
(`CsvConverter`, `JsonConverter`) and each row is a loop over precomputed coercers.
"""

import json
from functools import lru_cache
from json.encoder import c_make_encoder, encode_basestring

from classes import types
from classes.models import FieldType
from classes.types import CoercionError
from config.streams import ImportFailed
from records.ids import is_object_id

SYSTEM_COLUMNS = ("_id", "_parent_id", "user_id", "created_at", "updated_at")
_SYSTEM_SET = frozenset(SYSTEM_COLUMNS)


def _make_encoder():
    """`json.dumps(value, separators=(",", ":"), ensure_ascii=False)` (the text `size_error`
    measures), with the C encoder built once: `JSONEncoder.encode` builds it on every call,
    which is a third of the cost of a small record."""
    fallback = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    if c_make_encoder is None:
        return fallback

    def refuse(value):
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")

    encode = c_make_encoder(None, refuse, encode_basestring, None, ":", ",", False, False, True)
    join = "".join

    def encode_json(value) -> str:
        return join(encode(value, 0))

    return encode_json


encode_json = _make_encoder()
# Values of these types repeat a lot in real files (flags, days) and cost the most to
# coerce (dates): CSV cells are strings, so a small cache of cell -> value per column pays.
_CACHED_TYPES = (FieldType.BOOLEAN, FieldType.DATE)
_CACHE_SIZE = 4096
# A JSON text of N characters is at most 4N bytes of UTF-8: shorter texts need no measuring.
_SAFE_CHARS = types.MAX_RECORD_BYTES // 4


class RowProblem(Exception):
    """This row cannot be imported; the message says why (field names first)."""


class Row:
    """A valid row, ready to be written. `created_at`/`updated_at` are None when not given."""

    __slots__ = ("line", "id", "parent_id", "user_id", "created_at", "updated_at", "data")

    def __init__(self, line, rid, parent_id, user_id, created_at, updated_at, data):
        self.line, self.id, self.parent_id, self.user_id = line, rid, parent_id, user_id
        self.created_at, self.updated_at, self.data = created_at, updated_at, data


def _from_json_text(coercer):
    """CSV cells of Array and Location fields: a JSON array, or the form-style text."""

    def coerce(cell: str):
        if cell.lstrip().startswith("["):
            try:
                value = json.loads(cell)
            except ValueError:
                raise CoercionError("is not a valid JSON array") from None
            return coercer(value)
        return coercer(cell)

    return coerce


def csv_coercer(field_type: str):
    coercer = types.COERCERS[FieldType(field_type)]
    if field_type in (FieldType.ARRAY, FieldType.LOCATION):
        return _from_json_text(coercer)
    if field_type in _CACHED_TYPES:  # immutable results only: the cache shares them
        return lru_cache(maxsize=_CACHE_SIZE)(coercer)
    return coercer


def json_coercer(field_type: str):
    return types.COERCERS[FieldType(field_type)]


def serialise(data: dict) -> str:
    """The stored JSON text of a record's values, refused when too large or not storable."""
    text = encode_json(data)
    if len(text) > _SAFE_CHARS:
        error = types.size_error(data)
        if error:
            raise RowProblem(error)
    if "\\u0000" in text:  # PostgreSQL's jsonb cannot hold a NUL character
        raise RowProblem("a value holds a NUL character (\\u0000), which cannot be stored")
    return text


def _unix_seconds(name: str, value):
    try:
        seconds = types.coerce_integer(value)
    except CoercionError:
        raise RowProblem(f"{name}: must be Unix seconds (an integer)") from None
    if seconds < 0:
        raise RowProblem(f"{name}: must not be negative")
    return seconds


def _object_id(name: str, value):
    if not is_object_id(value):
        raise RowProblem(f"{name}: must be an ObjectId (24 lowercase hex characters)")
    return value


class SystemValues:
    """Checks `_id`, `_parent_id`, `user_id`, `created_at`, `updated_at` of a row.
    `check_user(user_id) -> bool` says whether a user belongs to the application."""

    def __init__(self, *, owner_id, check_user):
        self.owner_id, self.check_user = owner_id, check_user

    def build(self, line, data, rid, parent, user, created, updated) -> Row:
        if rid in (None, ""):
            rid = None
        else:
            _object_id("_id", rid)
        if parent in (None, ""):
            parent = None
        else:
            _object_id("_parent_id", parent)
        if user in (None, ""):
            user = self.owner_id
        else:
            user = self._user(user)
        created = None if created in (None, "") else _unix_seconds("created_at", created)
        updated = None if updated in (None, "") else _unix_seconds("updated_at", updated)
        return Row(line, rid, parent, user, created, updated, data)

    def _user(self, value) -> int:
        try:
            user = types.coerce_integer(value)
        except CoercionError:
            raise RowProblem("user_id: must be a user id (an integer)") from None
        if not self.check_user(user):
            raise RowProblem(f"user_id: {user} is not a user of this application")
        return user


class CsvConverter:
    """Rows of a CSV file whose header names fields of the class and system columns."""

    def __init__(self, field_map: dict, header: list[str], system: SystemValues):
        self.system = system
        names = [name.strip() for name in header]
        self._check_header(field_map, names)
        self.width = len(names)
        self.template = dict.fromkeys(field_map)
        self.plan = [
            (i, name, csv_coercer(field_map[name].type))
            for i, name in enumerate(names)
            if name in field_map
        ]
        self.sys_index = [names.index(c) if c in names else None for c in SYSTEM_COLUMNS]
        self.has_system = any(i is not None for i in self.sys_index)

    @staticmethod
    def _check_header(field_map, names):
        seen = set()
        for name in names:
            if name in seen:
                raise ImportFailed(f"line 1: the header names '{name}' twice")
            seen.add(name)
        unknown = [n for n in names if n not in field_map and n not in SYSTEM_COLUMNS]
        if unknown:
            known = ", ".join(field_map) or "none"
            raise ImportFailed(
                f"line 1: the header names unknown field(s): {', '.join(unknown)} "
                f"(fields of this class: {known})"
            )

    def convert(self, line: int, cells: list[str]) -> Row:
        if len(cells) != self.width:
            raise RowProblem(f"has {len(cells)} cells, the header has {self.width}")
        data = self.template.copy()
        try:
            for i, name, coerce in self.plan:
                cell = cells[i]
                if cell:
                    data[name] = coerce(cell)
        except CoercionError:
            raise RowProblem(self._all_errors(cells)) from None
        if not self.has_system:  # the common case: nothing else to check
            return Row(line, None, None, self.system.owner_id, None, None, serialise(data))
        system = [None if i is None else cells[i] for i in self.sys_index]
        return self.system.build(line, serialise(data), *system)

    def _all_errors(self, cells) -> str:
        problems = []
        for i, name, coerce in self.plan:
            if cells[i]:
                try:
                    coerce(cells[i])
                except CoercionError as exc:
                    problems.append(f"{name}: {exc}")
        return "; ".join(problems)


class JsonConverter:
    """Rows that are JSON objects (JSON array elements, NDJSON lines)."""

    def __init__(self, field_map: dict, system: SystemValues):
        self.system = system
        self.template = dict.fromkeys(field_map)
        self.coercers = {name: json_coercer(f.type) for name, f in field_map.items()}

    def convert(self, line: int, obj) -> Row:
        if not isinstance(obj, dict):
            raise RowProblem("must be a JSON object")
        data = self.template.copy()
        coercers = self.coercers
        problems, system = [], None
        for name, value in obj.items():
            coerce = coercers.get(name)
            if coerce is None:
                if name in _SYSTEM_SET:
                    system = system or dict.fromkeys(SYSTEM_COLUMNS)
                    system[name] = value
                else:
                    problems.append(f"{name}: is not a field of this class")
            elif value is not None:
                try:
                    data[name] = coerce(value)
                except CoercionError as exc:
                    problems.append(f"{name}: {exc}")
        if problems:
            raise RowProblem("; ".join(problems))
        text = serialise(data)
        try:  # JSON escapes can make lone surrogates, which UTF-8 cannot carry
            text.encode()
        except UnicodeEncodeError:
            raise RowProblem(
                "a value holds an invalid Unicode character (a lone surrogate)"
            ) from None
        if system is None:  # the common case: nothing else to check
            return Row(line, None, None, self.system.owner_id, None, None, text)
        return self.system.build(line, text, *system.values())
