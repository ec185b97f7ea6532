import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from classes.models import ObjectClass
from records.importing import (
    CONFLICT_MODES,
    DEFAULT_BATCH_SIZE,
    FORMATS,
    ImportFailed,
    import_records,
)


def find_class(app_id: str, name: str) -> ObjectClass:
    try:
        return ObjectClass.objects.get(application_id=int(app_id), name=name)
    except (ValueError, ObjectClass.DoesNotExist):
        raise CommandError(f"application {app_id} has no class '{name}'") from None


class Progress:
    """A tqdm bar over the bytes of the file (rate and ETA), with rows and rows/s beside it."""

    def __init__(self, total: int | None):
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr)
        self.rows = 0

    def __call__(self, rows: int, bytes_read: int) -> None:
        self.bar.update(bytes_read - self.bar.n)
        if rows != self.rows:
            self.rows = rows
            elapsed = self.bar.format_dict["elapsed"] or 1e-9
            self.bar.set_postfix_str(f"{rows:,} rows, {rows / elapsed:,.0f} rows/s", refresh=False)

    def close(self) -> None:
        self.bar.close()


class ErrorsFile:
    def __init__(self, path: str):
        self.handle = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in handle()

    def __call__(self, line: int, message: str) -> None:
        self.handle.write(f"line {line}: {message}\n")


class Command(BaseCommand):
    help = (
        "Import records into a class from a CSV, JSON array or NDJSON file ('-' reads stdin). "
        "Exits with status 1 when any row failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("app_id")
        parser.add_argument("class_name", metavar="CLASS")
        parser.add_argument("file", metavar="FILE")
        parser.add_argument("--format", choices=FORMATS, help="default: from the file extension")
        parser.add_argument("--owner", type=int, metavar="USER_ID", help="owner of the records")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
        parser.add_argument(
            "--dry-run", action="store_true", help="check everything, write nothing"
        )
        parser.add_argument("--on-conflict", choices=CONFLICT_MODES, default="error")
        parser.add_argument("--max-errors", type=int, metavar="N", help="stop after N failed rows")
        parser.add_argument("--errors-file", metavar="PATH", help="write every failed line here")
        parser.add_argument("--progress", action="store_true", help="show the progress bar")
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            metavar="N",
            help="coerce a CSV file without system columns in N processes (default 1)",
        )

    def handle(self, *args, **options):
        klass = find_class(options["app_id"], options["class_name"])
        path = options["file"]
        if path == "-" and not options["format"]:
            raise CommandError("reading stdin needs --format csv|json|ndjson")
        try:
            errors_file = ErrorsFile(options["errors_file"]) if options["errors_file"] else None
        except OSError as exc:
            raise CommandError(f"cannot write {options['errors_file']}: {exc.strerror}") from None
        stream, size = self._open(path)
        show = options["progress"] or sys.stderr.isatty()
        progress = Progress(size) if show else None
        try:
            report = import_records(
                klass,
                stream,
                options["format"],
                name=path,
                owner_id=options["owner"],
                batch_size=options["batch_size"],
                dry_run=options["dry_run"],
                on_conflict=options["on_conflict"],
                max_errors=options["max_errors"],
                progress=progress,
                on_error=errors_file,
                workers=options["workers"],
            )
        except ImportFailed as exc:
            raise CommandError(f"{path}: {exc}") from None
        finally:
            if progress is not None:
                progress.close()
            if errors_file is not None:
                errors_file.handle.close()
            if stream is not sys.stdin.buffer:
                stream.close()
        self._report(report, path, errors_file is None)

    def _open(self, path: str):
        if path == "-":
            return sys.stdin.buffer, None
        try:
            return open(path, "rb"), Path(path).stat().st_size  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None

    def _report(self, report, path: str, list_errors: bool) -> None:
        if list_errors:
            for line, message in report.errors:
                self.stderr.write(f"{path}: line {line}: {message}")
            if report.failed > len(report.errors):
                self.stderr.write(f"... and {report.failed - len(report.errors)} more failed rows")
        self.stdout.write(report.summary())
        if report.fatal:
            raise CommandError(f"{path}: {report.fatal}")
        if report.failed:
            raise CommandError(f"{report.failed} rows failed")
