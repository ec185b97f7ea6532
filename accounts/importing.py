"""Users from a CSV or JSON file: each row checked and created as a sign-up is.

Used by `manage.py import_users` and the console's users import. Reads through the streaming
readers of `config.streams`, so a file of any size is read in constant memory.
"""

from dataclasses import dataclass, field

from django.db import transaction

from accounts.services import user_create
from config.api.errors import ApiError, error_body
from config.streams import ByteCounter, ImportFailed, RowError, detect_format, read_rows

COLUMNS = (
    "login", "password", "email", "full_name", "tags", "phone", "website", "external_user_id",
    "external_id", "facebook_id", "twitter_id", "blob_id", "avatar", "custom_data", "timezone",
)  # fmt: skip
MAX_KEPT_ERRORS = 1_000
PROGRESS_EVERY = 100  # rows between progress callbacks


@dataclass
class UsersImportReport:
    rows_read: int = 0
    created: int = 0
    failed: int = 0
    dry_run: bool = False
    errors: list[tuple[int, str]] = field(default_factory=list)  # the first MAX_KEPT_ERRORS


class _DryRun(Exception):
    """Rolls back a user created only to check it."""


def users_import(
    *, application, stream, fmt=None, name=None, dry_run=False, progress=None, on_error=None
) -> UsersImportReport:
    """Create a user per row. `progress(rows_read, bytes_read)` is called as it goes,
    `on_error(line, message)` for every refused row. Raises ImportFailed when the file as a
    whole cannot be read (unknown format or column)."""
    fmt = detect_format(name, fmt)
    counter = ByteCounter()
    rows = read_rows(stream, fmt, counter)
    header = _header(rows) if fmt == "csv" else None
    report = UsersImportReport(dry_run=dry_run)
    for line, item in rows:
        report.rows_read += 1
        problem = _create(application, _user_data(item, header), dry_run)
        if problem:
            report.failed += 1
            if len(report.errors) < MAX_KEPT_ERRORS:
                report.errors.append((line, problem))
            if on_error is not None:
                on_error(line, problem)
        else:
            report.created += 1
        if progress is not None and report.rows_read % PROGRESS_EVERY == 0:
            progress(report.rows_read, counter.bytes)
    if progress is not None:
        progress(report.rows_read, counter.bytes)
    return report


def _header(rows) -> list[str]:
    header = [name.strip() for name in rows.header]
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise ImportFailed(
            f"line 1: the header names unknown column(s): {', '.join(unknown)} "
            f"(columns: {', '.join(COLUMNS)})"
        )
    return header


def _user_data(item, header):
    if isinstance(item, RowError) or header is None:
        return item
    if len(item) != len(header):
        return RowError(f"has {len(item)} cells, the header has {len(header)}")
    return {name: cell for name, cell in zip(header, item, strict=True) if cell != ""}


def _messages(exc: ApiError) -> str:
    errors = error_body(exc.errors)["errors"]
    return "; ".join(f"{name}: {', '.join(map(str, msgs))}" for name, msgs in errors.items())


def _create(application, data, dry_run) -> str | None:
    if isinstance(data, RowError):
        return data.message
    if not isinstance(data, dict):
        return "must be a JSON object"
    unknown = [name for name in data if name not in COLUMNS]
    if unknown:
        return "; ".join(f"{name}: is not a user column" for name in unknown)
    try:
        with transaction.atomic():
            user_create(application=application, data=data)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    except ApiError as exc:
        return _messages(exc)
    return None
