"""Streaming readers for the three import formats (CSV, JSON array, NDJSON).

They stand below the apps that import files (`records.importing` for records,
`import_users` of accounts for users) and know nothing of either.

Each reader takes a binary stream and yields `(line_number, item)` one row at a time, so a
multi-GB file is read in constant memory. `item` is a list of cells (CSV, after the header),
a parsed JSON value (JSON array, NDJSON), or a `RowError` for a row that cannot be parsed but
does not stop the file (a malformed NDJSON line). Anything that makes the rest of the file
unreadable raises `ImportFailed`. Line numbers are physical lines of the file, counted from 1.
"""

import codecs
import csv
import json

FORMATS = ("csv", "json", "ndjson")
CHUNK_BYTES = 1 << 20
# A single JSON array element bigger than this is refused rather than buffered forever.
MAX_ELEMENT_CHARS = 16 << 20
BOM = "\ufeff"

# Cells of a single CSV row can hold a whole record (131,072 bytes) and more.
csv.field_size_limit(MAX_ELEMENT_CHARS)


class ImportFailed(Exception):
    """The file as a whole cannot be imported (empty, unreadable, wrong header...)."""


class RowError:
    __slots__ = ("message",)

    def __init__(self, message: str):
        self.message = message


class ByteCounter:
    """Counts the bytes taken from the stream, for the progress bar's ETA."""

    __slots__ = ("bytes",)

    def __init__(self):
        self.bytes = 0


def detect_format(name: str | None, fmt: str | None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise ImportFailed(f"unknown format '{fmt}' (use one of: {', '.join(FORMATS)})")
        return fmt
    lowered = (name or "").lower()
    for ext, found in ((".csv", "csv"), (".ndjson", "ndjson"), (".jsonl", "ndjson")):
        if lowered.endswith(ext):
            return found
    if lowered.endswith(".json"):
        return "json"
    raise ImportFailed("cannot tell the format from the file name: give --format csv|json|ndjson")


def read_rows(stream, fmt: str, counter: ByteCounter):
    readers = {"csv": read_csv, "json": read_json_array, "ndjson": read_ndjson}
    return readers[fmt](stream, counter)


def _text_lines(stream, counter: ByteCounter):
    """Decoded lines of a binary stream; a byte that is not UTF-8 stops the file."""
    number = 0
    for raw in stream:
        number += 1
        counter.bytes += len(raw)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ImportFailed(
                f"line {number}: the file is not UTF-8 text "
                f"(byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
            ) from None
        if number == 1:
            text = text.removeprefix(BOM)
        yield text
    if number == 0:
        raise ImportFailed("the file is empty")


class CsvRows:
    """CSV rows after the header: iterate for `(line, cells)`; `header` is the first row."""

    def __init__(self, stream, counter: ByteCounter):
        self._reader = csv.reader(_text_lines(stream, counter), strict=True)
        try:
            self.header = next(self._reader)
        except StopIteration:
            raise ImportFailed("the file is empty") from None
        except csv.Error as exc:
            raise ImportFailed(f"line 1: {exc}") from None
        if not any(cell.strip() for cell in self.header):
            raise ImportFailed(
                "line 1: the header row is empty (a CSV file starts with field names)"
            )

    def __iter__(self):
        reader = self._reader
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ImportFailed(f"line {start}: {exc}") from None
            if cells:  # a blank line is no row
                yield start, cells


def read_csv(stream, counter: ByteCounter) -> CsvRows:
    return CsvRows(stream, counter)


def read_ndjson(stream, counter: ByteCounter):
    loads = json.loads
    for number, text in enumerate(_text_lines(stream, counter), 1):
        if not text.strip():
            continue
        try:
            yield number, loads(text)
        except ValueError as exc:
            yield number, RowError(f"invalid JSON: {_reason(exc)}")


def _reason(exc: ValueError) -> str:
    return exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)


class _JsonArrayScanner:
    """An incremental parser for one top-level JSON array: the text is read in chunks and each
    element is decoded with `JSONDecoder.raw_decode`, so only one element is held at a time."""

    def __init__(self, stream, counter: ByteCounter):
        self.stream, self.counter = stream, counter
        self.decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self.raw_decode = json.JSONDecoder().raw_decode
        self.buf, self.pos, self.eof, self.total = "", 0, False, 0
        # `line` is the line number at `buf[mark]`; both only move forward, so counting the
        # lines of a chunk costs one pass over it in all.
        self.line, self.mark = 1, 0

    def _more(self) -> bool:
        if self.eof:
            return False
        chunk = self.stream.read(CHUNK_BYTES)
        self.counter.bytes += len(chunk)
        self.total += len(chunk)
        try:
            text = self.decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            line = self._line_at(len(self.buf)) + chunk.count(b"\n", 0, max(exc.start, 0))
            raise ImportFailed(f"line {line}: the file is not UTF-8 text") from None
        if not chunk:
            self.eof = True
        if self.total == len(chunk) and chunk:
            text = text.removeprefix(BOM)
        self._line_at(self.pos)
        self.mark = 0
        self.buf, self.pos = self.buf[self.pos :] + text, 0
        return bool(chunk)

    def _skip_space(self) -> str:
        """The next character that is not white space ("" at the end of the file)."""
        while True:
            buf, pos = self.buf, self.pos
            while pos < len(buf) and buf[pos] in " \t\r\n":
                pos += 1
            self.pos = pos
            if pos < len(buf):
                return buf[pos]
            if not self._more():
                return ""

    def _line_at(self, pos: int) -> int:
        if pos < self.mark:  # only when reporting an error just behind the mark
            return self.line - self.buf.count("\n", pos, self.mark)
        self.line += self.buf.count("\n", self.mark, pos)
        self.mark = pos
        return self.line

    def _element(self):
        while True:
            try:
                value, end = self.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                # An error well before the end of what was read is in the text itself; one
                # near the end (or an open string) may only be an element cut by the chunk.
                cut = exc.pos >= len(self.buf) - 5 or exc.msg.startswith("Unterminated string")
                if self.eof or not cut:
                    raise ImportFailed(
                        f"line {self._line_at(exc.pos)}: invalid JSON: {exc.msg}"
                    ) from None
                value = end = None
            # A number at the end of the buffer may go on in the next chunk.
            if end is not None and (end < len(self.buf) or self.eof):
                self.pos = end
                return value
            if len(self.buf) - self.pos > MAX_ELEMENT_CHARS:
                raise ImportFailed(
                    f"line {self._line_at(self.pos)}: an element is larger than "
                    f"{MAX_ELEMENT_CHARS} characters"
                )
            self._more()

    def __iter__(self):
        first = self._skip_space()
        if first == "" and self.total == 0:
            raise ImportFailed("the file is empty")
        if first != "[":
            raise ImportFailed(
                f"line {self._line_at(self.pos)}: a JSON file must hold an array of records "
                "(use --format ndjson for one record per line)"
            )
        self.pos += 1
        if self._skip_space() == "]":
            self.pos += 1
        else:
            while True:
                line = self._line_at(self.pos)
                yield line, self._element()
                sep = self._skip_space()
                self.pos += 1
                if sep == "]":
                    break
                if sep == "":
                    raise ImportFailed(
                        f"line {self._line_at(self.pos - 1)}: the file ends before the closing ']'"
                    )
                if sep != ",":
                    raise ImportFailed(
                        f"line {self._line_at(self.pos - 1)}: expected ',' or ']' after a record"
                    )
                self._skip_space()
        if self._skip_space() != "":
            raise ImportFailed(f"line {self._line_at(self.pos)}: text after the closing ']'")


def read_json_array(stream, counter: ByteCounter):
    return iter(_JsonArrayScanner(stream, counter))
