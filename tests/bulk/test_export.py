"""export_records streams what import_records reads back unchanged."""

import csv
import io
import json

import pytest

from records.importing import iter_export
from records.models import Record
from tests.conftest import make_user

from .conftest import make_class, records, run_command

VALUES = [
    {
        "age": 41,
        "score": 2.5,
        "name": 'Ann, "q"\nline',
        "active": True,
        "tags": ["a", 1, False],
        "place": [12.5, -45.0],
        "born": "2019-09-21T21:25:00Z",
        "photo": None,
    },
    {
        "age": -7,
        "score": 1e-7,
        "name": "ünïcode ✓ \\ back",
        "active": False,
        "tags": [],
        "place": [-180.0, 90.0],
        "born": "1970-01-01T00:00:00Z",
        "photo": None,
    },
    {
        "age": None,
        "score": None,
        "name": None,
        "active": None,
        "tags": None,
        "place": None,
        "born": None,
        "photo": None,
    },
]


@pytest.fixture
def filled(profile, application, owner, member):
    parent = Record.objects.create(
        id="5f0c0a0b0c0d0e0f10111213",
        application=application,
        object_class=profile,
        user_id=owner.pk,
        created_at=1500000000,
        updated_at=1500000500,
        data=VALUES[0],
    )
    Record.objects.create(
        id="5f0c0a0b0c0d0e0f10111214",
        application=application,
        object_class=profile,
        user_id=member.pk,
        parent_id=parent.id,
        created_at=1500000001,
        updated_at=1500000001,
        data=VALUES[1],
    )
    Record.objects.create(
        id="5f0c0a0b0c0d0e0f10111215",
        application=application,
        object_class=profile,
        user_id=None,
        created_at=1500000002,
        updated_at=1600000000,
        data=VALUES[2],
    )
    return profile


def _snapshot(klass):
    return [
        (r.id, r.parent_id, r.user_id, r.created_at, r.updated_at, r.data) for r in records(klass)
    ]


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson"])
def test_export_then_import_into_an_empty_class_gives_the_same_records(
    filled, application, tmp_path, fmt
):
    path = tmp_path / f"out.{fmt}"
    result = run_command("export_records", application.pk, "profile", "--format", fmt, "-o", path)
    assert result.code == 0, result.err
    before = _snapshot(filled)
    Record.objects.all().delete()
    result = run_command("import_records", application.pk, "profile", path)
    assert result.code == 0, result.err
    assert _snapshot(filled) == before


def test_export_to_stdout_in_id_order(filled, application):
    result = run_command("export_records", application.pk, "profile", "--format", "ndjson")
    lines = [json.loads(line) for line in result.out.splitlines()]
    assert [item["_id"] for item in lines] == [r.id for r in records(filled)]
    assert lines[1] == {
        "_id": "5f0c0a0b0c0d0e0f10111214",
        "_parent_id": "5f0c0a0b0c0d0e0f10111213",
        "user_id": lines[1]["user_id"],
        "created_at": 1500000001,
        "updated_at": 1500000001,
        **{k: v for k, v in VALUES[1].items() if k != "photo"},
    }


def test_csv_export_has_a_header_and_one_row_per_record(filled, application):
    result = run_command("export_records", application.pk, "profile")
    rows = list(csv.reader(io.StringIO(result.out)))
    assert rows[0] == [
        "_id",
        "_parent_id",
        "user_id",
        "created_at",
        "updated_at",
        "age",
        "score",
        "name",
        "active",
        "tags",
        "place",
        "born",
    ]
    assert rows[1][5:] == [
        "41",
        "2.5",
        'Ann, "q"\nline',
        "true",
        '["a",1,false]',
        "[12.5,-45.0]",
        "2019-09-21T21:25:00Z",
    ]
    assert rows[3][5:] == [""] * 7


def test_an_empty_class_exports_an_empty_array(application):
    make_class(application, "nothing", fields=[("age", "integer")])
    result = run_command("export_records", application.pk, "nothing", "--format", "json")
    assert json.loads(result.out) == []


def test_export_streams_in_chunks(application, owner):
    klass = make_class(application, "many", fields=[("n", "integer")])
    Record.objects.bulk_create(
        Record(
            id=f"{i:024x}",
            application=application,
            object_class=klass,
            created_at=i,
            updated_at=i,
            data={"n": i},
        )
        for i in range(1, 2501)
    )
    chunks = list(iter_export(klass, "json", chunk_size=500))
    assert len(chunks) > 3
    assert [item["n"] for item in json.loads("".join(chunks))] == list(range(1, 2501))


def test_export_refuses_an_unknown_class(application):
    result = run_command("export_records", application.pk, "nope")
    assert result.code == 1 and "has no class 'nope'" in result.err


def test_round_trip_keeps_owners_of_imported_users(application, tmp_path, profile):
    user = make_user(application, "someone")
    path = tmp_path / "in.csv"
    path.write_text(f"user_id,age\n{user.pk},5\n")
    assert run_command("import_records", application.pk, "profile", path).code == 0
    assert Record.objects.get().user_id == user.pk
