"""The pipeline as the console calls it, and the streaming JSON reader at chunk edges."""

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from config import streams as readers
from records.importing import ImportFailed, import_records
from records.models import Record

from .conftest import records, run_command


def test_the_console_can_import_an_uploaded_file(profile, owner):
    upload = SimpleUploadedFile("people.csv", b"age,name\n1,a\nx,b\n3,c\n")
    seen = []
    report = import_records(
        profile,
        upload,
        name=upload.name,
        owner_id=owner.pk,
        progress=lambda rows, size: seen.append((rows, size)),
    )
    assert (report.rows_read, report.imported, report.failed) == (3, 2, 1)
    assert report.errors == [(3, "age: must be an integer")]
    assert not report.ok and report.fatal is None
    assert seen[-1] == (3, len(b"age,name\n1,a\nx,b\n3,c\n"))
    assert "rows read: 3, imported: 2" in report.summary()
    assert {r.user_id for r in records(profile)} == {owner.pk}


def test_errors_kept_in_the_report_are_capped(profile, monkeypatch):
    from records.importing import pipeline

    monkeypatch.setattr(pipeline, "MAX_KEPT_ERRORS", 5)
    stream = io.BytesIO(b"age\n" + b"x\n" * 20)
    report = import_records(profile, stream, "csv")
    assert report.failed == 20 and len(report.errors) == 5


def test_bad_arguments_raise_before_anything_is_read(profile):
    with pytest.raises(ImportFailed, match="batch size"):
        import_records(profile, io.BytesIO(b"age\n1\n"), "csv", batch_size=0)
    with pytest.raises(ImportFailed, match="on_conflict must be one of: error, skip, update"):
        import_records(profile, io.BytesIO(b"age\n1\n"), "csv", on_conflict="merge")
    assert not Record.objects.exists()


def test_progress_bar_shows_rows_per_second(profile, application, write_file, capsys):
    path = write_file("a.csv", "age\n" + "1\n" * 3000)
    result = run_command("import_records", application.pk, "profile", path, "--progress")
    assert result.code == 0
    bar = capsys.readouterr().err
    assert "rows/s" in bar and "3,000 rows" in bar


def _objects(n):
    return [
        {"age": i, "name": f'é{"x" * (i % 13)}"\\', "tags": [i, None, 1.5e300], "score": -i / 7}
        for i in range(n)
    ]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
def test_the_json_reader_is_right_whatever_the_chunk_size(monkeypatch, chunk):
    monkeypatch.setattr(readers, "CHUNK_BYTES", chunk)
    items = _objects(40)
    text = " \n[\n" + ",\n  ".join(json.dumps(i, ensure_ascii=False) for i in items) + "\n] \n"
    got = list(readers.read_json_array(io.BytesIO(text.encode()), readers.ByteCounter()))
    assert [value for _, value in got] == items
    assert [line for line, _ in got] == [3 + i for i in range(40)]


def test_an_empty_json_array_is_no_rows():
    assert list(readers.read_json_array(io.BytesIO(b"[ ]"), readers.ByteCounter())) == []


@pytest.mark.parametrize(
    "text, message",
    [
        (b'[{"a": 1}', "ends before the closing"),
        (b'[{"a": 1},\n{"a"', "line 2: invalid JSON"),
        (b'[{"a": 1}] x', "text after the closing ']'"),
        (b'[{"a": tru}]', "invalid JSON"),
    ],
)
def test_the_json_reader_refuses_broken_text(text, message):
    with pytest.raises(ImportFailed, match=message):
        list(readers.read_json_array(io.BytesIO(text), readers.ByteCounter()))


def test_a_batch_the_database_refuses_stops_the_import_and_keeps_earlier_batches(
    profile, application, write_file
):
    from django.db import connection

    with connection.cursor() as cursor:  # rolled back with the test
        cursor.execute(
            "ALTER TABLE records_record ADD CONSTRAINT test_no_13 "
            "CHECK (coalesce((data->>'age')::int, 0) <> 13)"
        )
    path = write_file("a.csv", "age\n1\n2\n3\n13\n5\n")
    result = run_command("import_records", application.pk, "profile", path, "--batch-size", "2")
    assert result.code == 1
    assert "the database refused the batch starting at row 3" in result.err
    assert "test_no_13" in result.err
    assert [r.data["age"] for r in records(profile)] == [1, 2]


def test_an_interrupted_import_keeps_whole_batches(profile):
    calls = []

    def progress(rows, size):
        calls.append(rows)
        if len(calls) == 2:
            raise KeyboardInterrupt

    stream = io.BytesIO(b"age\n" + b"".join(b"%d\n" % i for i in range(10)))
    report = import_records(profile, stream, "csv", batch_size=3, progress=progress)
    assert report.fatal.startswith("interrupted")
    assert [r.data["age"] for r in records(profile)] == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv"])
def test_memory_does_not_grow_with_the_file(profile, tmp_path, fmt):
    import tracemalloc

    rows, pad = 15_000, "x" * 800
    path = tmp_path / f"big.{fmt}"
    with path.open("w") as out:
        if fmt == "csv":
            out.write("age,name\n")
            out.writelines(f"{i},{pad}\n" for i in range(rows))
        else:
            lines = (json.dumps({"age": i, "name": pad}) for i in range(rows))
            out.write("[\n" + ",\n".join(lines) + "\n]\n" if fmt == "json" else "\n".join(lines))
    size = path.stat().st_size
    tracemalloc.start()
    try:
        with path.open("rb") as stream:
            report = import_records(profile, stream, fmt, dry_run=True, batch_size=5_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.rows_read == rows and report.ok
    assert size > 12_000_000
    assert peak < 6_000_000, f"peak {peak:,} bytes for a {size:,}-byte file"
