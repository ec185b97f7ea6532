"""Writing checked rows to `records_record` with PostgreSQL COPY, one batch per transaction.

Two paths, chosen per row:

- **direct**: a row with a generated `_id` and no `_parent_id` cannot collide with anything,
  so it is streamed straight into the table through COPY while the next rows are still being
  coerced (PostgreSQL parses one part while Python prepares the next).
- **staged**: a row that carries its own `_id` or a `_parent_id` is held (at most one batch)
  and, at the end of the batch, COPied into a temporary staging table. SQL then finds ids
  repeated from earlier batches (`_import_seen`, a session-lived temporary table: constant
  memory in Python whatever the file size), parents that do not exist, and ids that already
  exist, and applies `on_conflict` before one INSERT ... SELECT.
"""

from django.db import connection

from records.models import Record

from .rows import Row, RowProblem

CONFLICT_MODES = ("error", "skip", "update")
FLUSH_ROWS = 512  # rows per write to the COPY stream
STAGE, SEEN = "_import_stage", "_import_seen"
HEAD = ("id", "parent_id", "user_id", "created_at", "updated_at", "data")


def _copy_literal(value) -> str:
    """A constant in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, list | tuple):
        return "{" + ",".join(f'"{item}"' for item in value) + "}"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _tail(klass) -> tuple[list[str], str]:
    """The columns every imported row shares (application, class, default record
    permissions, and any column added later with a default), and their COPY text."""
    columns, values = [], []
    for field in Record._meta.concrete_fields:
        if field.column in HEAD:
            continue
        if field.name == "application":
            value = klass.application_id
        elif field.name == "object_class":
            value = klass.pk
        elif field.has_default():
            value = field.get_default()
        elif field.null:
            value = None
        else:
            raise RuntimeError(f"records_record.{field.column} has no default to import with")
        columns.append(field.column)
        values.append(_copy_literal(value))
    return columns, "\t".join(values)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\") if "\\" in text else text


class BatchResult:
    __slots__ = ("imported", "updated", "skipped", "errors")

    def __init__(self):
        self.imported = self.updated = self.skipped = 0
        self.errors: list[tuple[int, str]] = []


class RecordWriter:
    """Writes the rows of one import. Call `start()` once, then per batch (inside one
    transaction): `add(row)` for each row, `finish()` at the end; `abort()` on failure."""

    def __init__(self, klass, *, on_conflict: str, dry_run: bool, now: int):
        if on_conflict not in CONFLICT_MODES:
            raise ValueError(f"on_conflict must be one of {', '.join(CONFLICT_MODES)}")
        self.klass, self.on_conflict, self.dry_run = klass, on_conflict, dry_run
        self.now = now
        self.table = Record._meta.db_table
        tail_columns, self.tail = _tail(klass)
        self.columns = [*HEAD, *tail_columns]
        self._copy_cursor = self._copy_cm = self._copy = None
        self._pending: list[str] = []
        self._direct = 0
        self._staged: list[Row] = []
        self._batch_ids: dict[str, int] = {}

    def _cursor(self):
        connection.ensure_connection()
        return connection.connection.cursor()

    def start(self) -> None:
        """Prepare the session's temporary tables (empty for this import)."""
        with self._cursor() as cur:
            # Made afresh: a long-lived connection may have one from before a migration.
            cur.execute(f"DROP TABLE IF EXISTS pg_temp.{STAGE}")
            cur.execute(
                f"CREATE TEMP TABLE {STAGE} AS "
                f"SELECT *, 0::bigint AS _line FROM {self.table} WITH NO DATA"
            )
            cur.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {SEEN} (id text PRIMARY KEY, line bigint)"
            )
            cur.execute(f"TRUNCATE {SEEN}")

    # -- rows ---------------------------------------------------------------------------------

    def add(self, row: Row, new_id) -> None:
        """Queue a checked row. Raises RowProblem for an `_id` repeated inside the batch."""
        if row.id is None and row.parent_id is None:
            created = self.now if row.created_at is None else row.created_at
            rid = new_id(created)
            updated = self.now if row.updated_at is None else row.updated_at
            user = "\\N" if row.user_id is None else row.user_id
            self._pending.append(
                f"{rid}\t\\N\t{user}\t{created}\t{updated}\t{_escape(row.data)}\t{self.tail}\n"
            )
            self._direct += 1
            if len(self._pending) >= FLUSH_ROWS:
                self._write_direct()
            return
        if row.id is None:
            row.id = new_id(self.now if row.created_at is None else row.created_at)
        else:
            first = self._batch_ids.get(row.id)
            if first is not None:
                raise RowProblem(f"_id: {row.id} is repeated (first on line {first})")
            self._batch_ids[row.id] = row.line
        self._staged.append(row)

    def _write_direct(self) -> None:
        if not self.dry_run:
            if self._copy is None:
                cols = ", ".join(self.columns)
                self._copy_cursor = self._cursor()
                self._copy_cm = self._copy_cursor.copy(f"COPY {self.table} ({cols}) FROM STDIN")
                self._copy = self._copy_cm.__enter__()
            self._copy.write("".join(self._pending))
        self._pending.clear()

    # -- end of a batch -----------------------------------------------------------------------

    def finish(self) -> BatchResult:
        """Write what the batch holds; answers its counts and the lines that failed."""
        result = BatchResult()
        if self._pending:
            self._write_direct()
        if self._copy_cm is not None:
            cm, self._copy_cm, self._copy = self._copy_cm, None, None
            try:
                cm.__exit__(None, None, None)
            finally:
                self._close_copy_cursor()
        result.imported += self._direct
        self._direct = 0
        if self._staged:
            with self._cursor() as cur:
                self._finish_staged(cur, result)
        self._staged, self._batch_ids = [], {}
        return result

    def abort(self) -> None:
        """Drop what the batch holds (its transaction is being rolled back)."""
        if self._copy_cm is not None:
            cm, self._copy_cm, self._copy = self._copy_cm, None, None
            try:
                cm.__exit__(RuntimeError, RuntimeError("import aborted"), None)
            except Exception:  # noqa: BLE001 - the transaction is rolled back anyway
                pass
            self._close_copy_cursor()
        self._pending, self._direct, self._staged, self._batch_ids = [], 0, [], {}

    def _close_copy_cursor(self) -> None:
        cursor, self._copy_cursor = self._copy_cursor, None
        if cursor is not None:
            cursor.close()

    def _stage_line(self, row: Row) -> str:
        def nul(value):
            return "\\N" if value is None else value

        return (
            f"{row.id}\t{nul(row.parent_id)}\t{nul(row.user_id)}\t{nul(row.created_at)}\t"
            f"{nul(row.updated_at)}\t{_escape(row.data)}\t{self.tail}\t{row.line}\n"
        )

    def _finish_staged(self, cur, result: BatchResult) -> None:
        """Each check removes the rows it fails from the staging table (DELETE ... RETURNING,
        joined on indexes: no list of lines goes back to the server), then the rest is
        written."""
        cur.execute(f"TRUNCATE {STAGE}")
        cols = ", ".join(self.columns)
        with cur.copy(f"COPY {STAGE} ({cols}, _line) FROM STDIN") as copy:
            for start in range(0, len(self._staged), FLUSH_ROWS):
                chunk = self._staged[start : start + FLUSH_ROWS]
                copy.write("".join(self._stage_line(row) for row in chunk))
        cur.execute(f"ANALYZE {STAGE}")  # a fair plan for the joins below
        result.errors.extend(self._repeated(cur) + self._orphans(cur) + self._taken(cur))
        updated = self._existing(cur, result)
        if self.dry_run:
            result.updated += updated
            cur.execute(f"SELECT count(*) FROM {STAGE}")
            result.imported += cur.fetchone()[0]
            return
        result.updated += updated
        result.imported += self._insert(cur, result)

    def _repeated(self, cur) -> list[tuple[int, str]]:
        """Ids on an earlier batch's line. This batch's ids are remembered; the DELETE sees
        the seen-table as it was before the statement, so it finds earlier lines only."""
        cur.execute(
            f"WITH remember AS (INSERT INTO {SEEN} (id, line) SELECT id, _line FROM {STAGE} "
            f"  ON CONFLICT (id) DO NOTHING) "
            f"DELETE FROM {STAGE} s USING {SEEN} n WHERE n.id = s.id "
            f"RETURNING s._line, s.id, n.line"
        )
        return [
            (line, f"_id: {rid} is repeated (first on line {first})")
            for line, rid, first in cur.fetchall()
        ]

    def _orphans(self, cur) -> list[tuple[int, str]]:
        """Rows whose parent is neither a record of the application nor an earlier row."""
        cur.execute(
            f"DELETE FROM {STAGE} s WHERE s.parent_id IS NOT NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {self.table} r "
            f"  WHERE r.id = s.parent_id AND r.application_id = %s) "
            f"AND NOT EXISTS (SELECT 1 FROM {SEEN} n WHERE n.id = s.parent_id AND n.line < s._line) "
            f"RETURNING s._line, s.parent_id",
            [self.klass.application_id],
        )
        return [
            (line, f"_parent_id: {parent} is not a record of this application")
            for line, parent in cur.fetchall()
        ]

    def _taken(self, cur) -> list[tuple[int, str]]:
        """Ids held by a record of another class: an import never touches those."""
        cur.execute(
            f"DELETE FROM {STAGE} s USING {self.table} r "
            f"WHERE r.id = s.id AND r.object_class_id <> %s RETURNING s._line, s.id",
            [self.klass.pk],
        )
        return [(line, f"_id: {rid} is a record of another class") for line, rid in cur.fetchall()]

    def _existing(self, cur, result: BatchResult) -> int:
        """Rows whose `_id` is a record of this class: refused, skipped or updated (counted)."""
        if self.on_conflict == "update" and not self.dry_run:
            # The row replaces the record's values and parent; owner and created_at are
            # kept unless the row gives them.
            cur.execute(
                f"UPDATE {self.table} r SET data = s.data, parent_id = s.parent_id, "
                f"user_id = COALESCE(s.user_id, r.user_id), "
                f"created_at = COALESCE(s.created_at, r.created_at), "
                f"updated_at = COALESCE(s.updated_at, %s) "
                f"FROM {STAGE} s WHERE r.id = s.id AND r.object_class_id = %s",
                [self.now, self.klass.pk],
            )
        cur.execute(
            f"DELETE FROM {STAGE} s USING {self.table} r WHERE r.id = s.id RETURNING s._line, s.id"
        )
        rows = cur.fetchall()
        if self.on_conflict == "update":
            return len(rows)
        if self.on_conflict == "skip":
            result.skipped += len(rows)
        else:
            result.errors.extend((line, f"_id: {rid} already exists") for line, rid in rows)
        return 0

    def _insert(self, cur, result: BatchResult) -> int:
        cur.execute(f"SELECT count(*) FROM {STAGE}")
        expected = cur.fetchone()[0]
        select = ", ".join(
            f"COALESCE({c}, %(now)s)" if c in ("created_at", "updated_at") else c
            for c in self.columns
        )
        cur.execute(
            f"INSERT INTO {self.table} ({', '.join(self.columns)}) "
            f"SELECT {select} FROM {STAGE} ON CONFLICT (id) DO NOTHING",
            {"now": self.now},
        )
        # A record created by someone else between the check and the insert: skipped.
        result.skipped += expected - cur.rowcount
        return cur.rowcount
