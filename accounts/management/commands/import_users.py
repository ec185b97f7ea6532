import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Application
from accounts.services import user_create
from config.api.errors import ApiError, error_body
from config.streams import (
    FORMATS,
    ByteCounter,
    ImportFailed,
    RowError,
    detect_format,
    read_rows,
)

COLUMNS = (
    "login", "password", "email", "full_name", "tags", "phone", "website", "external_user_id",
    "external_id", "facebook_id", "twitter_id", "blob_id", "avatar", "custom_data", "timezone",
)  # fmt: skip


class _DryRun(Exception):
    """Rolls back a user created only to check it."""


def _messages(exc: ApiError) -> str:
    errors = error_body(exc.errors)["errors"]
    return "; ".join(f"{name}: {', '.join(map(str, msgs))}" for name, msgs in errors.items())


class Command(BaseCommand):
    help = (
        "Create the users of an application from a CSV or JSON file of login, password, email, "
        "full_name, tags and the other user fields (phone, website, external_user_id, "
        "external_id, facebook_id, twitter_id, blob_id, avatar, custom_data, timezone; '-' "
        "reads stdin). Each user is checked as a sign-up is; failed lines are listed and the "
        "exit status is 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("app_id")
        parser.add_argument("file", metavar="FILE")
        parser.add_argument("--format", choices=FORMATS, help="default: from the file extension")
        parser.add_argument("--dry-run", action="store_true", help="check every user, create none")

    def handle(self, *args, app_id, file, format, dry_run, **options):
        try:
            app = Application.objects.get(pk=int(app_id))
        except (ValueError, Application.DoesNotExist):
            raise CommandError(f"there is no application {app_id}") from None
        started = time.monotonic()
        try:
            fmt = detect_format(file, format)
            stream = sys.stdin.buffer if file == "-" else open(file, "rb")  # noqa: SIM115
        except ImportFailed as exc:
            raise CommandError(f"{file}: {exc}") from None
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        try:
            read, created, failed = self._import(app, stream, fmt, file, dry_run)
        except ImportFailed as exc:
            raise CommandError(f"{file}: {exc}") from None
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
        verb = "would be created" if dry_run else "created"
        self.stdout.write(
            f"rows read: {read}, {verb}: {created}, failed: {failed}, "
            f"seconds: {time.monotonic() - started:.2f}"
        )
        if failed:
            raise CommandError(f"{failed} rows failed")

    def _import(self, app, stream, fmt, file, dry_run) -> tuple[int, int, int]:
        rows = read_rows(stream, fmt, ByteCounter())
        header = None
        if fmt == "csv":
            header = [name.strip() for name in rows.header]
            unknown = [name for name in header if name not in COLUMNS]
            if unknown:
                raise ImportFailed(
                    f"line 1: the header names unknown column(s): {', '.join(unknown)} "
                    f"(columns: {', '.join(COLUMNS)})"
                )
        read = created = failed = 0
        for line, item in rows:
            read += 1
            problem = self._create(app, self._user_data(item, header), dry_run)
            if problem:
                failed += 1
                self.stderr.write(f"{file}: line {line}: {problem}")
            else:
                created += 1
        return read, created, failed

    @staticmethod
    def _user_data(item, header):
        if isinstance(item, RowError):
            return item
        if header is None:
            return item
        if len(item) != len(header):
            return RowError(f"has {len(item)} cells, the header has {len(header)}")
        return {name: cell for name, cell in zip(header, item, strict=True) if cell != ""}

    @staticmethod
    def _create(app, data, dry_run) -> str | None:
        if isinstance(data, RowError):
            return data.message
        if not isinstance(data, dict):
            return "must be a JSON object"
        unknown = [name for name in data if name not in COLUMNS]
        if unknown:
            return "; ".join(f"{name}: is not a user column" for name in unknown)
        try:
            with transaction.atomic():
                user_create(application=app, data=data)
                if dry_run:
                    raise _DryRun
        except _DryRun:
            pass
        except ApiError as exc:
            return _messages(exc)
        return None
