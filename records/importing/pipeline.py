"""The import pipeline: read → coerce and check → COPY, batch by batch.

`import_records` is the one entry point for the `import_records` command and the console's
import. Each batch is one transaction, so an import stopped at any moment leaves whole
batches; running it again with `on_conflict="skip"` completes it.
"""

import time
from dataclasses import dataclass, field

from django.db import DatabaseError, transaction
from psycopg import Error as PsycopgError

from accounts.models import ApiUser
from config.streams import ByteCounter, ImportFailed, RowError, detect_format, read_rows
from records.ids import new_object_id

from .parallel import ParallelFiller, can_use_workers
from .rows import CsvConverter, JsonConverter, RowProblem, SystemValues
from .writer import CONFLICT_MODES, RecordWriter

DEFAULT_BATCH_SIZE = 10_000
MAX_KEPT_ERRORS = 1_000
PROGRESS_EVERY = 1_024  # rows between progress callbacks


@dataclass
class ImportReport:
    """What an import did. `errors` keeps the first MAX_KEPT_ERRORS (line, message) pairs;
    `failed` counts them all. `fatal` says why the import stopped early, if it did."""

    rows_read: int = 0
    imported: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    errors: list[tuple[int, str]] = field(default_factory=list)
    fatal: str | None = None

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.fatal is None

    def summary(self) -> str:
        rate = self.rows_read / self.seconds if self.seconds else 0.0
        verb = "would be imported" if self.dry_run else "imported"
        text = (
            f"rows read: {self.rows_read}, {verb}: {self.imported}, updated: {self.updated}, "
            f"skipped: {self.skipped}, failed: {self.failed}, "
            f"seconds: {self.seconds:.2f} ({rate:,.0f} rows/s)"
        )
        return text + (" (dry run: nothing written)" if self.dry_run else "")


class _UserCheck:
    """Whether a user id belongs to the application, asked once per distinct id."""

    def __init__(self, application_id: int, limit: int = 100_000):
        self.application_id, self.limit, self.known = application_id, limit, {}

    def __call__(self, user_id: int) -> bool:
        answer = self.known.get(user_id)
        if answer is None:
            if len(self.known) >= self.limit:
                self.known.clear()
            answer = ApiUser.objects.filter(pk=user_id, application_id=self.application_id).exists()
            self.known[user_id] = answer
        return answer


class _Run:
    """One import in progress: counts, errors, and when to stop."""

    def __init__(self, report, *, max_errors, on_error, progress, counter):
        self.report, self.max_errors, self.on_error = report, max_errors, on_error
        self.progress, self.counter = progress, counter

    def fail(self, line: int, message: str) -> None:
        report = self.report
        report.failed += 1
        if len(report.errors) < MAX_KEPT_ERRORS:
            report.errors.append((line, message))
        if self.on_error is not None:
            self.on_error(line, message)

    stopped = False  # set when the error limit stopped the reading of the file

    def over_limit(self) -> bool:
        return self.max_errors is not None and self.report.failed > self.max_errors

    def tick(self) -> None:
        if self.progress is not None:
            self.progress(self.report.rows_read, self.counter.bytes)


def import_records(
    klass,
    stream,
    fmt: str | None = None,
    *,
    name: str | None = None,
    owner_id: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    on_conflict: str = "error",
    max_errors: int | None = None,
    progress=None,
    on_error=None,
    workers: int = 1,
) -> ImportReport:
    """Import the records of one binary `stream` into class `klass`.

    `fmt` is csv, json or ndjson (else guessed from `name`'s extension). Values are coerced
    by `classes.types` as in the API. `owner_id` owns rows without a `user_id`. `on_conflict`
    says what a row whose `_id` exists does: error, skip or update. `max_errors`: stop once
    more rows than this have failed. `progress(rows_read, bytes_read)` is called as it goes;
    `on_error(line, message)` gets every failed line. `workers` > 1 coerces a CSV file
    without system columns in that many forked processes (same results, more cores; not
    for use inside a web server's worker). Raises ImportFailed (nothing written)
    for a bad argument; a file that turns unreadable midway ends with `report.fatal`.
    """
    started = time.monotonic()
    if batch_size < 1:
        raise ImportFailed("the batch size must be at least 1")
    if max_errors is not None and max_errors < 0:
        raise ImportFailed("max_errors must not be negative")
    if on_conflict not in CONFLICT_MODES:
        raise ImportFailed(f"on_conflict must be one of: {', '.join(CONFLICT_MODES)}")
    fmt = detect_format(name, fmt)
    check_user = _UserCheck(klass.application_id)
    if owner_id is not None and not check_user(owner_id):
        raise ImportFailed(f"owner {owner_id} is not a user of this application")
    report = ImportReport(dry_run=dry_run)
    counter = ByteCounter()
    run = _Run(report, max_errors=max_errors, on_error=on_error, progress=progress, counter=counter)
    writer = RecordWriter(klass, on_conflict=on_conflict, dry_run=dry_run, now=int(time.time()))
    system = SystemValues(owner_id=owner_id, check_user=check_user)
    try:
        rows = read_rows(stream, fmt, counter)
        if fmt == "csv":
            converter = CsvConverter(klass.field_map(), rows.header, system)
        else:
            converter = JsonConverter(klass.field_map(), system)
        writer.start()
        filler = None
        if workers > 1 and can_use_workers(fmt, converter):
            filler = ParallelFiller(converter, workers)
        try:
            _run_batches(iter(rows), converter, writer, run, batch_size, filler)
        finally:
            if filler is not None:
                filler.close()
    except ImportFailed as exc:
        if report.rows_read == 0 and report.imported == 0:
            raise
        report.fatal = str(exc)
    except KeyboardInterrupt:
        report.fatal = "interrupted: the batches written before it are kept"
    finally:
        report.seconds = time.monotonic() - started
    run.tick()
    return report


def _run_batches(rows, converter, writer, run: _Run, batch_size: int, filler=None) -> None:
    """Batches until the file ends, the error limit is passed, or the file turns unreadable
    (the rows before it are written, then ImportFailed goes on up)."""
    more = True
    while more and not run.over_limit():
        stopped, first_row = None, run.report.rows_read + 1
        try:
            with transaction.atomic():
                try:
                    if filler is not None:
                        more = filler.fill(rows, writer, run, batch_size)
                    else:
                        more = _fill_batch(rows, converter, writer, run, batch_size)
                except ImportFailed as exc:
                    stopped, more = exc, False
                except BaseException:
                    writer.abort()
                    raise
                result = writer.finish()
        except (DatabaseError, PsycopgError) as exc:
            # Every row was checked first, so this is the server's own trouble (disk full,
            # connection lost...): the batch is rolled back and the import stops.
            raise ImportFailed(
                f"the database refused the batch starting at row {first_row}: {exc}"
            ) from None
        report = run.report
        report.imported += result.imported
        report.updated += result.updated
        report.skipped += result.skipped
        for line, message in sorted(result.errors):
            run.fail(line, message)
        run.tick()
        if stopped is not None:
            raise stopped
    if run.over_limit() and (more or run.stopped):
        run.report.fatal = (
            f"stopped after {run.report.failed} failed rows (max errors: {run.max_errors})"
        )


def _fill_batch(rows, converter, writer, run: _Run, batch_size: int) -> bool:
    """Read up to `batch_size` rows into the writer; answers whether rows may remain."""
    report, convert, add, new_id = run.report, converter.convert, writer.add, new_object_id
    for _ in range(batch_size):
        try:
            line, item = next(rows)
        except StopIteration:
            return False
        report.rows_read += 1
        try:
            if item.__class__ is RowError:
                raise RowProblem(item.message)
            add(convert(line, item), new_id)
        except RowProblem as exc:
            run.fail(line, str(exc))
            if run.over_limit():
                run.stopped = True
                return False
        if not report.rows_read % PROGRESS_EVERY:
            run.tick()
    return True
