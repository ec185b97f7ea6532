"""Every format reads the same records, every field type is coerced as the API does."""

import io
import json
import sys

import pytest

from records.models import Record

from .conftest import records, run_command

EXPECTED = {
    "age": 41,
    "score": 2.5,
    "name": 'Ann, "the" first',
    "active": True,
    "tags": ["a", "b"],
    "place": [12.5, -45.0],
    "born": "2019-09-21T21:25:00Z",
    "photo": None,
}
EMPTY = dict.fromkeys(EXPECTED)

CSV = (
    "age,score,name,active,tags,place,born\n"
    '41,2.5,"Ann, ""the"" first",true,"a,b","12.5, -45",2019-09-21 21:25:00\n'
    ",,,,,,\n"
)
JSON_ROWS = [
    {
        "age": "41",
        "score": 2.5,
        "name": 'Ann, "the" first',
        "active": 1,
        "tags": ["a", "b"],
        "place": "12.5,-45",
        "born": 1569101100,
    },
    {},
]


@pytest.mark.parametrize(
    "name, content",
    [
        ("people.csv", CSV),
        ("people.json", json.dumps(JSON_ROWS, indent=2)),
        ("people.ndjson", "\n".join(json.dumps(r) for r in JSON_ROWS) + "\n"),
        ("people.jsonl", "\n".join(json.dumps(r) for r in JSON_ROWS)),
    ],
)
def test_every_format_imports_the_same_records(
    profile, application, owner, write_file, name, content
):
    path = write_file(name, content)
    result = run_command("import_records", application.pk, "profile", path, "--owner", owner.pk)
    assert result.code == 0, result.err
    assert "rows read: 2, imported: 2" in result.out
    rows = records(profile)
    assert [r.data for r in rows] == [EXPECTED, EMPTY]
    assert {r.user_id for r in rows} == {owner.pk}
    assert all(r.application_id == application.pk for r in rows)
    # Default record permissions, as a record created through the API.
    assert (rows[0].read_access, rows[0].update_access, rows[0].delete_access) == (
        "open",
        "owner",
        "owner",
    )


def test_format_option_wins_over_the_extension(profile, application, write_file):
    path = write_file("people.txt", '{"age": 1}\n{"age": 2}\n')
    result = run_command("import_records", application.pk, "profile", path, "--format", "ndjson")
    assert result.code == 0, result.err
    assert sorted(r.data["age"] for r in records(profile)) == [1, 2]


def test_unknown_extension_asks_for_a_format(profile, application, write_file):
    path = write_file("people.txt", "age\n1\n")
    result = run_command("import_records", application.pk, "profile", path)
    assert result.code == 1
    assert "--format" in result.err
    assert not records(profile)


def test_stdin_is_read_with_a_dash(profile, application, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"age,name\n7,x\n")))
    result = run_command("import_records", application.pk, "profile", "-", "--format", "csv")
    assert result.code == 0, result.err
    assert [r.data["age"] for r in records(profile)] == [7]


def test_csv_array_and_location_cells_may_be_json(profile, application, write_file):
    path = write_file(
        "a.csv",
        'tags,place\n"[1, ""x"", true]","[1.5, 2]"\n"",""\nsolo,"-180,90"\n',
    )
    result = run_command("import_records", application.pk, "profile", path)
    assert result.code == 0, result.err
    got = [(r.data["tags"], r.data["place"]) for r in records(profile)]
    assert got == [([1, "x", True], [1.5, 2.0]), (None, None), (["solo"], [-180.0, 90.0])]


def test_csv_system_columns_set_id_parent_owner_and_times(
    profile, application, owner, member, write_file
):
    parent, child = "5f0c0a0b0c0d0e0f10111213", "5f0c0a0b0c0d0e0f10111214"
    path = write_file(
        "a.csv",
        "_id,_parent_id,user_id,created_at,updated_at,age\n"
        f"{parent},,{member.pk},1500000000,1500000100,1\n"
        f"{child},{parent},,1600000000,,2\n",
    )
    result = run_command("import_records", application.pk, "profile", path, "--owner", owner.pk)
    assert result.code == 0, result.err
    first, second = records(profile)
    assert (first.id, first.parent_id, first.user_id) == (parent, None, member.pk)
    assert (first.created_at, first.updated_at) == (1500000000, 1500000100)
    assert (second.id, second.parent_id, second.user_id) == (child, parent, owner.pk)
    assert second.created_at == 1600000000 and second.updated_at >= 1600000000


def test_generated_ids_are_object_ids_in_file_order(profile, application, write_file):
    path = write_file("a.ndjson", "".join(f'{{"age": {i}}}\n' for i in range(50)))
    result = run_command("import_records", application.pk, "profile", path, "--batch-size", "7")
    assert result.code == 0, result.err
    rows = records(profile)
    assert [r.data["age"] for r in rows] == list(range(50))
    assert all(len(r.id) == 24 and int(r.id, 16) for r in rows)


def test_rows_without_owner_have_no_user(profile, application, write_file):
    path = write_file("a.csv", "age\n1\n")
    assert run_command("import_records", application.pk, "profile", path).code == 0
    assert Record.objects.get(object_class=profile).user_id is None


def test_a_crlf_csv_with_a_bom_and_a_multiline_cell(profile, application, write_file):
    path = write_file("a.csv", '\ufeffname,age\r\n"two\r\nlines",3\r\n\r\nlast,4\r\n'.encode())
    result = run_command("import_records", application.pk, "profile", path)
    assert result.code == 0, result.err
    assert [(r.data["name"], r.data["age"]) for r in records(profile)] == [
        ("two\r\nlines", 3),
        ("last", 4),
    ]
