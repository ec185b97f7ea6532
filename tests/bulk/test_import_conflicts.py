"""Rows that carry their own `_id`: repeats inside a file, records that exist, parents."""

import pytest

from records.models import Record

from .conftest import make_class, records, run_command

A, B, C = "5f0c0a0b0c0d0e0f10111213", "5f0c0a0b0c0d0e0f10111214", "5f0c0a0b0c0d0e0f10111215"


@pytest.fixture
def existing(profile, application, member):
    return Record.objects.create(
        id=A,
        application=application,
        object_class=profile,
        user_id=member.pk,
        created_at=100,
        updated_at=100,
        data={"age": 0, "name": "old"},
    )


def _file(write_file):
    return write_file("a.csv", f"_id,age,created_at\n{A},1,\n{B},2,200\n")


def test_on_conflict_error_fails_the_existing_id_and_imports_the_rest(
    profile, application, existing, write_file
):
    result = run_command("import_records", application.pk, "profile", _file(write_file))
    assert result.code == 1
    assert f"line 2: _id: {A} already exists" in result.err
    assert "imported: 1" in result.out and "failed: 1" in result.out
    assert {r.id: r.data["age"] for r in records(profile)} == {A: 0, B: 2}


def test_on_conflict_skip_keeps_the_existing_record(profile, application, existing, write_file):
    result = run_command(
        "import_records", application.pk, "profile", _file(write_file), "--on-conflict", "skip"
    )
    assert result.code == 0, result.err
    assert "imported: 1, updated: 0, skipped: 1, failed: 0" in result.out
    assert {r.id: r.data["age"] for r in records(profile)} == {A: 0, B: 2}


def test_on_conflict_update_replaces_values_and_keeps_owner_and_creation(
    profile, application, existing, member, write_file
):
    result = run_command(
        "import_records", application.pk, "profile", _file(write_file), "--on-conflict", "update"
    )
    assert result.code == 0, result.err
    assert "imported: 1, updated: 1" in result.out
    updated = Record.objects.get(pk=A)
    assert updated.data["age"] == 1 and updated.data["name"] is None
    assert (updated.user_id, updated.created_at) == (member.pk, 100)
    assert updated.updated_at > 100


def test_an_id_of_another_class_is_never_overwritten(profile, application, write_file):
    other = make_class(application, "other", fields=[("age", "integer")])
    Record.objects.create(
        id=A,
        application=application,
        object_class=other,
        created_at=1,
        updated_at=1,
        data={"age": 9},
    )
    path = _file(write_file)
    for mode in ("error", "skip", "update"):
        result = run_command(
            "import_records", application.pk, "profile", path, "--on-conflict", mode
        )
        assert f"line 2: _id: {A} is a record of another class" in result.err
        assert result.code == 1
    assert Record.objects.get(pk=A).data == {"age": 9}
    assert [r.id for r in records(profile)] == [B]


@pytest.mark.parametrize("batch_size", ["1", "10"])
def test_a_repeated_id_in_one_file_fails_the_later_line(
    profile, application, write_file, batch_size
):
    path = write_file(
        "a.ndjson", f'{{"_id": "{A}", "age": 1}}\n{{"age": 2}}\n{{"_id": "{A}", "age": 3}}\n'
    )
    result = run_command(
        "import_records",
        application.pk,
        "profile",
        path,
        "--batch-size",
        batch_size,
        "--on-conflict",
        "skip",
    )
    assert result.code == 1
    assert f"line 3: _id: {A} is repeated (first on line 1)" in result.err
    assert sorted(r.data["age"] for r in records(profile)) == [1, 2]


def test_parents_must_exist_or_come_earlier_in_the_file(profile, application, existing, write_file):
    path = write_file(
        "a.csv",
        "_id,_parent_id,age\n"
        f"{B},{A},1\n"  # an existing record
        f",{B},2\n"  # a row above
        f",{C},3\n"  # a row below: not yet there
        f"{C},,4\n"
        ",ffffffffffffffffffffffff,5\n"  # nowhere
        ",zz,6\n",
    )
    result = run_command("import_records", application.pk, "profile", path, "--batch-size", "2")
    assert result.code == 1
    assert f"line 4: _parent_id: {C} is not a record of this application" in result.err
    assert "line 6: _parent_id: ffffffffffffffffffffffff is not a record" in result.err
    assert "line 7: _parent_id: must be an ObjectId" in result.err
    got = {r.data["age"]: r.parent_id for r in records(profile) if r.data["age"]}
    assert got == {1: A, 2: B, 4: None}


def test_a_parent_in_another_application_does_not_count(
    profile, application, other_application, write_file
):
    foreign = make_class(other_application, "foreign", fields=[])
    Record.objects.create(
        id=C, application=other_application, object_class=foreign, created_at=1, updated_at=1
    )
    path = write_file("a.csv", f"_parent_id,age\n{C},1\n")
    result = run_command("import_records", application.pk, "profile", path)
    assert f"line 2: _parent_id: {C} is not a record of this application" in result.err
    assert not records(profile)
