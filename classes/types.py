"""The one coercion module: client values -> stored values, for every field type (API.md §3).

The API, the console forms and the importer all call `coerce_value` / `coerce_fields`, so a
value is accepted or refused the same way wherever it comes from. Each coercer raises
CoercionError with a message that does not repeat the field name (callers key errors by it).
"""

import json
import math
import re
from datetime import UTC, datetime

from classes.models import FieldType
from config.api.indexes import index_map_values, is_index_map

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_RECORD_BYTES = 131_072
SCALARS = (str, int, float, bool)

_NON_NUMBERS = {"nan", "inf", "infinity"}  # words float() reads as numbers
_FLOAT_RE = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")
_SHORT_YEAR_RE = re.compile(r"^\d{1,3}-")
_DATE_FORMATS = (
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)


class CoercionError(ValueError):
    pass


def coerce_integer(value):
    if isinstance(value, bool):
        raise CoercionError("must be an integer")
    if isinstance(value, int):
        result = value
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise CoercionError("must be an integer")
        result = int(value)
    elif isinstance(value, str):
        result = _int_from_text(value)
    else:
        raise CoercionError("must be an integer")
    if not INT64_MIN <= result <= INT64_MAX:
        raise CoercionError("is out of the 64-bit integer range")
    return result


def _int_from_text(text: str) -> int:
    # int() and float() run in C; they accept more than a number written out ("1_000",
    # "nan", "inf"), and that is refused here. The importer calls this for every cell.
    if "_" not in text:
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            number = None
        if number is not None and math.isfinite(number) and number.is_integer():
            return int(number)
    raise CoercionError("must be an integer")


def _float_from_text(text: str) -> float:
    if "_" not in text:
        try:
            number = float(text)
        except ValueError:
            number = None
        if number is not None and math.isfinite(number):
            return number
        if number is not None and text.strip().lstrip("+-").lower() not in _NON_NUMBERS:
            raise CoercionError("must be a finite number")  # written as digits, but overflows
    raise CoercionError("must be a number")


def coerce_float(value):
    if isinstance(value, bool):
        raise CoercionError("must be a number")
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        result = _float_from_text(value)
    else:
        raise CoercionError("must be a number")
    if not math.isfinite(result):
        raise CoercionError("must be a finite number")
    return result


def coerce_string(value):
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise CoercionError("must be a string")
        return str(value)
    raise CoercionError("must be a string")


_TRUE, _FALSE = {"true", "1"}, {"false", "0"}


def coerce_boolean(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise CoercionError("must be true or false")


def coerce_array(value):
    if isinstance(value, str):
        return [] if value == "" else [item.strip() for item in value.split(",")]
    if is_index_map(value):  # a[0]=x&a[1]=y from a form
        value = index_map_values(value)
    if not isinstance(value, list):
        raise CoercionError("must be an array")
    for item in value:
        if item is not None and not isinstance(item, SCALARS):
            raise CoercionError("must be an array of scalar values")
        if isinstance(item, float) and not math.isfinite(item):
            raise CoercionError("must not hold NaN or Infinity")
    return list(value)


def coerce_location(value):
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
    elif isinstance(value, list | tuple):
        parts = list(value)
    else:
        raise CoercionError("must be [longitude, latitude]")
    if len(parts) != 2:
        raise CoercionError("must be [longitude, latitude]")
    try:
        lon, lat = (coerce_float(p) for p in parts)
    except CoercionError:
        raise CoercionError("must be [longitude, latitude] as numbers") from None
    if not -180 <= lon <= 180:
        raise CoercionError("longitude must be within [-180, 180]")
    if not -90 <= lat <= 90:
        raise CoercionError("latitude must be within [-90, 90]")
    return [lon, lat]


def format_date(moment: datetime) -> str:
    """The stored form, `0999-01-01T00:00:00Z`: always four year digits, so that stored
    dates sort and compare as text in time order (strftime's `%Y` drops the zeros)."""
    m = moment.astimezone(UTC)
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}Z"


def _is_canonical_date(text: str) -> bool:
    """`2019-09-21T21:25:00Z`, the stored form itself: checked by the C parser and kept
    as it is, with no reformatting (the common case of an import)."""
    if len(text) != 20 or text[10] != "T" or text[19] != "Z" or not text.isascii():
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def coerce_date(value):
    if isinstance(value, str) and _is_canonical_date(value):
        return value
    if isinstance(value, bool):
        raise CoercionError("must be a date (ISO 8601 or Unix seconds)")
    if isinstance(value, int | float) or (isinstance(value, str) and _FLOAT_RE.match(value)):
        try:
            seconds = float(value)
            return format_date(datetime.fromtimestamp(seconds, UTC))
        except (OverflowError, OSError, ValueError):
            raise CoercionError("is out of range") from None
    if isinstance(value, str):
        return format_date(_parse_iso(value.strip()))
    raise CoercionError("must be a date (ISO 8601 or Unix seconds)")


def _parse_iso(text: str) -> datetime:
    if _SHORT_YEAR_RE.match(text):  # `999-01-01`, as dates before year 1000 were once stored
        text = text.zfill(len(text) + 4 - text.index("-"))
    candidate = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        moment = None
        for fmt in _DATE_FORMATS:
            try:
                moment = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if moment is None:
        raise CoercionError("must be a date (ISO 8601 or Unix seconds)")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:  # an offset can carry 0001-01-01 or 9999-12-31 past the years datetime holds
        moment.astimezone(UTC)
    except OverflowError:
        raise CoercionError("is out of range (years 1 to 9999 in UTC)") from None
    return moment


def coerce_file(value):
    raise CoercionError("is set only through the file upload endpoint")


COERCERS = {
    FieldType.INTEGER: coerce_integer,
    FieldType.FLOAT: coerce_float,
    FieldType.STRING: coerce_string,
    FieldType.BOOLEAN: coerce_boolean,
    FieldType.ARRAY: coerce_array,
    FieldType.FILE: coerce_file,
    FieldType.LOCATION: coerce_location,
    FieldType.DATE: coerce_date,
}


def coerce_array_item(value):
    """A value inside an Array field (push, pull, all, ...): any JSON scalar."""
    if value is not None and not isinstance(value, SCALARS):
        raise CoercionError("must be a scalar value")
    return value


def coerce_value(field_type: str, value, *, form: bool = False):
    """One field's value. `None` (and the string "null" from a form) clears the field."""
    if value is None or (form and value == "null"):
        return None
    return COERCERS[FieldType(field_type)](value)


def coerce_fields(field_map: dict, data: dict, *, form: bool = False) -> tuple[dict, dict]:
    """Coerce every given field of a record. Answers (values, errors by field name);
    a name not in the class is an error, never dropped."""
    values, errors = {}, {}
    for name, raw in data.items():
        field = field_map.get(name)
        if field is None:
            errors[name] = ["is not a field of this class"]
            continue
        try:
            values[name] = coerce_value(field.type, raw, form=form)
        except CoercionError as exc:
            errors[name] = [str(exc)]
    return values, errors


def record_size(data: dict) -> int:
    return len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())


def size_error(data: dict) -> str | None:
    size = record_size(data)
    if size > MAX_RECORD_BYTES:
        return f"record is too large (current: {size}, max: {MAX_RECORD_BYTES})"
    return None
