"""Bad rows are reported by line and the good ones still imported; bad files stop cleanly."""

import json

import pytest

from records.models import Record

from .conftest import make_class, records, run_command

BAD_VALUES = [
    ("age", "forty", "age: must be an integer"),
    ("age", "1.5", "age: must be an integer"),
    ("age", "99999999999999999999", "age: is out of the 64-bit integer range"),
    ("score", "abc", "score: must be a number"),
    ("score", "nan", "score: must be a number"),
    ("active", "yes", "active: must be true or false"),
    ("tags", '[1, {"a": 2}]', "tags: must be an array of scalar values"),
    ("tags", "[1, 2", "tags: is not a valid JSON array"),
    ("place", "200,10", "place: longitude must be within [-180, 180]"),
    ("place", "10,-91", "place: latitude must be within [-90, 90]"),
    ("place", "1,2,3", "place: must be [longitude, latitude]"),
    ("born", "someday", "born: must be a date (ISO 8601 or Unix seconds)"),
    ("photo", "x.png", "photo: is set only through the file upload endpoint"),
]


@pytest.mark.parametrize("field, cell, message", BAD_VALUES)
def test_a_bad_csv_value_fails_its_line_only(
    profile, application, write_file, field, cell, message
):
    cell = '"' + cell.replace('"', '""') + '"'
    path = write_file("a.csv", f"name,{field}\nfirst,\nsecond,{cell}\nthird,\n")
    result = run_command("import_records", application.pk, "profile", path)
    assert result.code == 1
    assert f"line 3: {message}" in result.err
    assert "rows read: 3, imported: 2" in result.out and "failed: 1" in result.out
    assert [r.data["name"] for r in records(profile)] == ["first", "third"]


JSON_BAD = [
    ({"age": True}, "age: must be an integer"),
    ({"score": "1e999"}, "score: must be a finite number"),
    ({"name": {"a": 1}}, "name: must be a string"),
    ({"active": 2}, "active: must be true or false"),
    ({"tags": {"x": 1}}, "tags: must be an array"),
    ({"place": [1]}, "place: must be [longitude, latitude]"),
    ({"born": True}, "born: must be a date (ISO 8601 or Unix seconds)"),
    ({"nickname": "x"}, "nickname: is not a field of this class"),
    ({"_id": "not-an-id"}, "_id: must be an ObjectId (24 lowercase hex characters)"),
    ({"_parent_id": 12}, "_parent_id: must be an ObjectId (24 lowercase hex characters)"),
    ({"user_id": "x"}, "user_id: must be a user id (an integer)"),
    ({"user_id": 987654}, "user_id: 987654 is not a user of this application"),
    ({"created_at": "yesterday"}, "created_at: must be Unix seconds (an integer)"),
    ({"updated_at": -5}, "updated_at: must not be negative"),
    ([1, 2], "must be a JSON object"),
    ({"name": "x" * 140_000}, "record is too large (current: 140"),
    ({"name": "nul\u0000"}, "a value holds a NUL character"),
    ({"tags": ["\ud800"]}, "a value holds an invalid Unicode character"),
]


@pytest.mark.parametrize("row, message", JSON_BAD)
def test_a_bad_json_row_fails_its_line_only(profile, application, write_file, row, message):
    path = write_file("a.ndjson", "\n".join(json.dumps(r) for r in [{"age": 1}, row, {"age": 3}]))
    result = run_command("import_records", application.pk, "profile", path)
    assert result.code == 1
    assert "line 2: " + message in result.err
    assert [r.data["age"] for r in records(profile)] == [1, 3]


def test_json_array_errors_name_the_line_where_the_record_starts(profile, application, write_file):
    content = '[\n  {"age": 1},\n  {\n    "age": "x"\n  },\n  {"age": 3}\n]\n'
    path = write_file("a.json", content)
    result = run_command("import_records", application.pk, "profile", path)
    assert result.code == 1
    assert "line 3: age: must be an integer" in result.err


def test_all_errors_of_a_row_are_given(profile, application, write_file):
    path = write_file("a.csv", "age,active\nx,maybe\n")
    result = run_command("import_records", application.pk, "profile", path)
    assert "line 2: age: must be an integer; active: must be true or false" in result.err


def test_an_invalid_ndjson_line_fails_and_the_rest_goes_on(profile, application, write_file):
    path = write_file("a.ndjson", '{"age": 1}\n{"age": \n\n{"age": 3}\n')
    result = run_command("import_records", application.pk, "profile", path)
    assert result.code == 1
    assert "line 2: invalid JSON" in result.err
    assert [r.data["age"] for r in records(profile)] == [1, 3]


def test_a_csv_row_with_too_many_cells_fails(profile, application, write_file):
    path = write_file("a.csv", "age,name\n1,a,extra\n2,b\n")
    result = run_command("import_records", application.pk, "profile", path)
    assert "line 2: has 3 cells, the header has 2" in result.err
    assert [r.data["age"] for r in records(profile)] == [2]


def test_max_errors_stops_the_import(profile, application, write_file):
    lines = ["age"] + ["1", "x", "2", "y", "3", "z", "4"]
    path = write_file("a.csv", "\n".join(lines) + "\n")
    result = run_command(
        "import_records",
        application.pk,
        "profile",
        path,
        "--max-errors",
        "1",
        "--batch-size",
        "100",
    )
    assert result.code == 1
    assert "stopped after 2 failed rows" in result.err
    # Rows before the line that passed the limit are kept; nothing after it is read.
    assert [r.data["age"] for r in records(profile)] == [1, 2]
    assert "rows read: 4" in result.out


def test_errors_file_lists_every_failed_line(profile, application, write_file, tmp_path):
    path = write_file("a.csv", "age\n1\nx\n2\ny\n")
    errors = tmp_path / "errors.txt"
    result = run_command("import_records", application.pk, "profile", path, "--errors-file", errors)
    assert result.code == 1
    assert errors.read_text().splitlines() == [
        "line 3: age: must be an integer",
        "line 5: age: must be an integer",
    ]


@pytest.mark.parametrize("name", ["a.csv", "a.json", "a.ndjson"])
def test_an_empty_file_is_a_clear_error(profile, application, write_file, name):
    path = write_file(name, b"")
    result = run_command("import_records", application.pk, "profile", path)
    assert result.code == 1
    assert "the file is empty" in result.err
    assert result.out == ""


def test_a_header_naming_an_unknown_field_is_refused(profile, application, write_file):
    path = write_file("a.csv", "age,nickname,colour\n1,x,y\n")
    result = run_command("import_records", application.pk, "profile", path)
    assert result.code == 1
    assert "line 1: the header names unknown field(s): nickname, colour" in result.err
    assert not records(profile)


def test_a_header_naming_a_field_twice_is_refused(profile, application, write_file):
    path = write_file("a.csv", "age,age\n1,2\n")
    result = run_command("import_records", application.pk, "profile", path)
    assert "the header names 'age' twice" in result.err


@pytest.mark.parametrize(
    "name, content, line",
    [
        ("a.csv", "name\nok\ncaf\xe9\n".encode("latin-1"), 3),
        ("a.ndjson", '{"name": "ok"}\n{"name": "caf\xe9"}\n'.encode("latin-1"), 2),
        ("a.json", '[{"name": "ok"},\n{"name": "caf\xe9"}]'.encode("latin-1"), 2),
    ],
)
def test_a_file_that_is_not_utf8_is_a_clear_error(
    profile, application, write_file, name, content, line
):
    path = write_file(name, content)
    result = run_command("import_records", application.pk, "profile", path, "--batch-size", "1")
    assert result.code == 1
    assert f"line {line}: the file is not UTF-8 text" in result.err
    assert Record.objects.count() <= 1


def test_a_json_file_that_is_no_array_is_refused(profile, application, write_file):
    path = write_file("a.json", '{"age": 1}')
    result = run_command("import_records", application.pk, "profile", path)
    assert result.code == 1
    assert "must hold an array of records" in result.err


def test_broken_json_keeps_the_batches_before_it_and_says_where(profile, application, write_file):
    path = write_file("a.json", '[{"age": 1},\n{"age": 2},\n{"age": 3} {"age": 4}]')
    result = run_command("import_records", application.pk, "profile", path)
    assert result.code == 1
    assert "line 3: expected ',' or ']' after a record" in result.err
    assert "imported: 3" in result.out
    assert len(records(profile)) == 3


def test_unknown_application_class_owner_are_refused(profile, application, write_file):
    path = write_file("a.csv", "age\n1\n")
    assert "has no class 'nope'" in run_command("import_records", application.pk, "nope", path).err
    assert "has no class" in run_command("import_records", 999, "profile", path).err
    result = run_command("import_records", application.pk, "profile", path, "--owner", 424242)
    assert result.code == 1 and "owner 424242 is not a user of this application" in result.err
    result = run_command("import_records", application.pk, "profile", "/no/such.csv")
    assert result.code == 1 and "cannot read /no/such.csv" in result.err
    assert not records(profile)


def test_an_owner_from_another_application_is_refused(
    profile, application, other_application, write_file
):
    from tests.conftest import make_user

    outsider = make_user(other_application, "outsider")
    path = write_file("a.csv", "age,user_id\n1,\n2," + str(outsider.pk) + "\n")
    result = run_command("import_records", application.pk, "profile", path, "--owner", outsider.pk)
    assert "is not a user of this application" in result.err
    result = run_command("import_records", application.pk, "profile", path)
    assert f"line 3: user_id: {outsider.pk} is not a user of this application" in result.err


def test_dry_run_checks_everything_and_writes_nothing(profile, application, owner, write_file):
    existing = Record.objects.create(
        id="5f0c0a0b0c0d0e0f10111213",
        application=application,
        object_class=profile,
        created_at=1,
        updated_at=1,
        data={"age": 0},
    )
    path = write_file(
        "a.csv",
        f"_id,age\n,1\n,x\n{existing.id},2\n5f0c0a0b0c0d0e0f10111214,3\n5f0c0a0b0c0d0e0f10111214,4\n",
    )
    result = run_command(
        "import_records",
        application.pk,
        "profile",
        path,
        "--dry-run",
        "--owner",
        owner.pk,
        "--batch-size",
        "2",
    )
    assert result.code == 1
    assert "line 3: age: must be an integer" in result.err
    assert f"line 4: _id: {existing.id} already exists" in result.err
    assert "line 6: _id: 5f0c0a0b0c0d0e0f10111214 is repeated (first on line 5)" in result.err
    assert "would be imported: 2" in result.out and "dry run: nothing written" in result.out
    assert records(profile) == [existing]
    assert Record.objects.get().data == {"age": 0}


def test_a_class_without_the_field_of_another_class(application, write_file):
    make_class(application, "empty", fields=[])
    path = write_file("a.ndjson", '{}\n{"x": 1}\n')
    result = run_command("import_records", application.pk, "empty", path)
    assert "line 2: x: is not a field of this class" in result.err
    assert Record.objects.count() == 1


def test_failures_within_max_errors_do_not_stop_the_import(profile, application, write_file):
    path = write_file("a.csv", "age\n1\nx\n2\ny\n3\n")
    result = run_command("import_records", application.pk, "profile", path, "--max-errors", "2")
    assert result.code == 1
    assert "stopped after" not in result.err
    assert "rows read: 5, imported: 3" in result.out and "failed: 2" in result.out


def test_an_errors_file_that_cannot_be_written_is_a_clear_error(profile, application, write_file):
    path = write_file("a.csv", "age\n1\n")
    result = run_command(
        "import_records", application.pk, "profile", path, "--errors-file", "/no/such/dir/e.txt"
    )
    assert result.code == 1 and "cannot write /no/such/dir/e.txt" in result.err
    assert not records(profile)
