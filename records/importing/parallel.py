"""Coercion in worker processes (`import_records --workers N`), for large CSV files.

Python's coercion of each row is what bounds an import, so with cores to spare the rows are
coerced by forked workers, a chunk at a time, while the main process reads the file, makes
the ids (in file order), writes COPY and commits the batches exactly as the serial path does:
same batches, same errors, same lines, same results. It is used only for CSV files without
system columns, where each row depends on nothing but itself (no owner or parent to look up
in the database: the workers never touch it).
"""

import multiprocessing
import signal
from collections import deque

from config.streams import ImportFailed
from records.ids import new_object_id

from .rows import Row, RowProblem

CHUNK_ROWS = 1_000
PROGRESS_EVERY = 1_024
_converter = None  # the converter the forked workers inherit


def _convert_chunk(chunk) -> list[tuple[int, str | None, str | None]]:
    """In a worker: (line, stored JSON text or None, error or None) for each row."""
    convert, out = _converter.convert, []
    for line, cells in chunk:
        try:
            out.append((line, convert(line, cells).data, None))
        except RowProblem as exc:
            out.append((line, None, str(exc)))
    return out


def _worker_start() -> None:
    """A forked worker inherits the parent's SIGTERM handler (config/embedded_db.py turns
    SIGTERM into sys.exit so that exit handlers stop the embedded server). In a worker that
    would run the parent's exit handlers when `Pool.terminate` signals it, and the pool would
    wait forever for a worker stuck in them: a worker dies at once, as by default."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def can_use_workers(fmt: str, converter) -> bool:
    return (
        fmt == "csv"
        and not getattr(converter, "has_system", True)
        and "fork" in multiprocessing.get_all_start_methods()
    )


def _take(rows, size: int):
    """Up to `size` rows, and the ImportFailed that ended the file early, if one did."""
    chunk = []
    try:
        for _ in range(size):
            chunk.append(next(rows))
    except StopIteration:
        pass
    except ImportFailed as exc:
        return chunk, exc
    return chunk, None


class ParallelFiller:
    """Fills one batch at a time, like `pipeline._fill_batch`, with `workers` processes."""

    def __init__(self, converter, workers: int):
        global _converter
        _converter = converter
        self.owner_id, self.workers = converter.system.owner_id, workers
        self.pool = multiprocessing.get_context("fork").Pool(workers, initializer=_worker_start)

    def close(self) -> None:
        self.pool.terminate()
        self.pool.join()

    def fill(self, rows, writer, run, batch_size: int) -> bool:
        """Read up to `batch_size` rows into the writer; answers whether rows may remain."""
        pending, left, more, failure = deque(), batch_size, True, None
        while True:
            while more and failure is None and left and len(pending) < 2 * self.workers:
                size = min(CHUNK_ROWS, left)
                chunk, failure = _take(rows, size)
                more, left = len(chunk) == size, left - len(chunk)
                if chunk:
                    pending.append(self.pool.apply_async(_convert_chunk, (chunk,)))
            if not pending:
                if failure is not None:
                    raise failure
                return more
            if not self._write(pending.popleft().get(), writer, run):
                return False

    def _write(self, results, writer, run) -> bool:
        """The rows of one chunk, in order; False when the error limit stops the import."""
        report, add, owner = run.report, writer.add, self.owner_id
        for line, text, error in results:
            report.rows_read += 1
            if error is not None:
                run.fail(line, error)
                if run.over_limit():
                    run.stopped = True
                    return False
            else:
                add(Row(line, None, None, owner, None, None, text), new_object_id)
            if not report.rows_read % PROGRESS_EVERY:
                run.tick()
        return True
