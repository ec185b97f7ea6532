"""--workers N coerces in forked processes and must give exactly what the serial path gives."""

import pytest

from records.models import Record

from .conftest import make_class, run_command


def _rows(klass):
    return [
        (r.parent_id, r.user_id, r.data)
        for r in Record.objects.filter(object_class=klass).order_by("id")
    ]


def _file(write_file):
    lines = ["age,name,tags,born"]
    for i in range(5_000):
        if i % 997 == 5:
            lines.append(f"x{i},bad,,")
        else:
            lines.append(f'{i},n{i},"a,{i}",2020-01-{1 + i % 28:02d}')
    return write_file("a.csv", "\n".join(lines) + "\n")


def test_workers_give_the_same_records_errors_and_order(application, owner, write_file):
    path = _file(write_file)
    results = {}
    for workers in ("1", "3"):
        klass = make_class(
            application,
            f"w{workers}",
            fields=[("age", "integer"), ("name", "string"), ("tags", "array"), ("born", "date")],
        )
        result = run_command(
            "import_records",
            application.pk,
            klass.name,
            path,
            "--owner",
            owner.pk,
            "--workers",
            workers,
            "--batch-size",
            "1500",
        )
        assert result.code == 1
        errors = [line.split(": ", 1)[1] for line in result.err.splitlines() if ": line " in line]
        results[workers] = (_rows(klass), errors, result.out.split(", seconds")[0])
    serial, parallel = results["1"], results["3"]
    assert parallel == serial
    assert len(serial[0]) == 4_994 and [r[2]["age"] for r in serial[0]] == [
        i for i in range(5_000) if i % 997 != 5
    ]
    assert serial[1][0] == "line 7: age: must be an integer"


def test_workers_stop_at_max_errors_like_the_serial_path(application, write_file):
    path = _file(write_file)
    klass = make_class(
        application,
        "w",
        fields=[("age", "integer"), ("name", "string"), ("tags", "array"), ("born", "date")],
    )
    result = run_command(
        "import_records",
        application.pk,
        "w",
        path,
        "--workers",
        "2",
        "--max-errors",
        "1",
        "--batch-size",
        "10000",
    )
    assert "stopped after 2 failed rows" in result.err
    assert "rows read: 1003" in result.out
    assert Record.objects.filter(object_class=klass).count() == 1001


@pytest.mark.parametrize("batch_size", ["2", "10000"])
def test_workers_keep_the_rows_before_a_byte_that_is_not_utf8(application, write_file, batch_size):
    klass = make_class(application, "w", fields=[("age", "integer")])
    content = b"age\n" + b"".join(b"%d\n" % i for i in range(2_500)) + b"\xff\n7\n"
    path = write_file("a.csv", content)
    result = run_command(
        "import_records", application.pk, "w", path, "--workers", "2", "--batch-size", batch_size
    )
    assert result.code == 1
    assert "line 2502: the file is not UTF-8 text" in result.err
    assert Record.objects.filter(object_class=klass).count() == 2_500
