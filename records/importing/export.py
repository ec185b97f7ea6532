"""Streaming export of a class's records as CSV, a JSON array, or NDJSON.

Records are read in `_id` order through a server-side cursor, so memory stays flat for any
number of records. The columns are those `import_records` reads back: importing an export
into an empty class gives the same ids, owners, parents, times and values. File fields are
left out: their values point at stored objects and are set only through the file endpoints.
"""

import csv
import io
import json

from classes.models import FieldType
from records.models import Record

FORMATS = ("csv", "json", "ndjson")
SYSTEM_COLUMNS = ("_id", "_parent_id", "user_id", "created_at", "updated_at")
CHUNK_RECORDS = 2_000
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def export_fields(klass) -> list:
    return [f for f in klass.field_map().values() if f.type != FieldType.FILE]


def _records(klass, chunk_size: int, records=None):
    if records is None:
        records = Record.objects.filter(object_class=klass)
    return (
        records.order_by("id")
        .values_list("id", "parent_id", "user_id", "created_at", "updated_at", "data")
        .iterator(chunk_size=chunk_size)
    )


def _objects(klass, chunk_size: int, records=None):
    names = [f.name for f in export_fields(klass)]
    for rid, parent, user, created, updated, data in _records(klass, chunk_size, records):
        item = {
            "_id": rid,
            "_parent_id": parent,
            "user_id": user,
            "created_at": created,
            "updated_at": updated,
        }
        for name in names:
            item[name] = data.get(name)
        yield item


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value)
    return _encode(value)  # Array and Location: a JSON array


def _iter_csv(klass, chunk_size, records=None):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*SYSTEM_COLUMNS, *(f.name for f in export_fields(klass))])
    for count, item in enumerate(_objects(klass, chunk_size, records), 1):
        writer.writerow([_csv_cell(value) for value in item.values()])
        if count % CHUNK_RECORDS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _iter_ndjson(klass, chunk_size, records=None):
    lines = []
    for item in _objects(klass, chunk_size, records):
        lines.append(_encode(item))
        if len(lines) == CHUNK_RECORDS:
            yield "\n".join(lines) + "\n"
            lines = []
    if lines:
        yield "\n".join(lines) + "\n"


def _iter_json(klass, chunk_size, records=None):
    yield "["
    separator = "\n"
    for chunk in _iter_ndjson(klass, chunk_size, records):
        yield separator + chunk.rstrip("\n").replace("\n", ",\n")
        separator = ",\n"
    yield "\n]\n"


def iter_export(klass, fmt: str = "csv", *, chunk_size: int = CHUNK_RECORDS, records=None):
    """The export as text chunks (for a streaming HTTP response or a file). `records`: a
    queryset of the class's records to export instead of all (the console's filtered view)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format '{fmt}' (use one of: {', '.join(FORMATS)})")
    builders = {"csv": _iter_csv, "json": _iter_json, "ndjson": _iter_ndjson}
    return builders[fmt](klass, chunk_size, records)


def export_records(klass, out, fmt: str = "csv", *, chunk_size: int = CHUNK_RECORDS) -> int:
    """Write the export to the text stream `out`; answers the number of characters."""
    written = 0
    for chunk in iter_export(klass, fmt, chunk_size=chunk_size):
        out.write(chunk)
        written += len(chunk)
    return written
