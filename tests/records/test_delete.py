"""Deleting records: by id, ids and criteria, cascading through `_parent_id` with files."""

import pytest

from accounts.caller import Caller
from blobs.backends import storage
from blobs.files import Upload, file_key, record_file_attach
from blobs.models import StoredFile
from records import services
from records.models import Record

from .conftest import make_class


@pytest.fixture
def note(application):
    return make_class(application, name="note", fields=[("text", "string"), ("scan", "file")])


@pytest.fixture
def family(create, note, owner, stranger):
    """grandparent (profile) -> parent (note) -> child (profile) -> grandchild (note),
    plus an unrelated record; the child belongs to someone else."""
    grandparent = create(full_name="grandparent")
    parent = create(klass=note, text="parent", _parent_id=grandparent.pk)
    child = create(user=stranger, full_name="child", _parent_id=parent.pk)
    grandchild = create(klass=note, text="grandchild", _parent_id=child.pk)
    other = create(full_name="unrelated")
    return grandparent, parent, child, grandchild, other


def remaining():
    return set(Record.objects.values_list("pk", flat=True))


def test_delete_cascades_three_levels_whatever_the_owner(owner_api, family):
    grandparent, *_, other = family
    assert owner_api.delete(f"/data/profile/{grandparent.pk}")[0] == 200
    assert remaining() == {other.pk}


def test_delete_in_the_middle_keeps_the_ancestors(owner_api, family):
    grandparent, parent, child, grandchild, other = family
    assert owner_api.delete(f"/data/note/{parent.pk}")[0] == 200
    assert remaining() == {grandparent.pk, other.pk}


def test_delete_by_ids_and_criteria_cascade(owner_api, family):
    grandparent, parent, child, grandchild, other = family
    status, body = owner_api.delete(f"/data/profile/{grandparent.pk},{other.pk}")
    assert body["SuccessfullyDeleted"] == {"ids": [grandparent.pk, other.pk]}
    assert remaining() == set()


def test_delete_by_criteria_cascades(owner_api, family):
    grandparent, parent, child, grandchild, other = family
    status, body = owner_api.delete("/data/profile/by_criteria?full_name=grandparent")
    assert (status, body) == (200, {"total_deleted": 1})
    assert remaining() == {other.pk}


def test_a_refused_delete_keeps_the_children(api_for, stranger, family):
    grandparent, *_ = family
    assert api_for(stranger).delete(f"/data/profile/{grandparent.pk}")[0] == 403
    assert len(remaining()) == 5


def test_a_parent_cycle_does_not_loop(owner_api, create, owner):
    first = create(full_name="a")
    second = create(full_name="b", _parent_id=first.pk)
    Record.objects.filter(pk=first.pk).update(parent_id=second.pk)
    assert owner_api.delete(f"/data/profile/{first.pk}")[0] == 200
    assert remaining() == set()


def test_children_in_another_application_are_untouched(owner_api, family, other_application):
    grandparent, *_ = family
    stray_class = make_class(other_application, name="profile")
    stray = Record.objects.create(
        id="5c0d625aca8bf43a5b8cf111",
        application=other_application,
        object_class=stray_class,
        parent_id=grandparent.pk,
        created_at=0,
        updated_at=0,
    )
    owner_api.delete(f"/data/profile/{grandparent.pk}")
    assert Record.objects.filter(pk=stray.pk).exists()


def attach(record, field_name, tmp_path, content=b"scan bytes"):
    path = tmp_path / f"{record.pk}.bin"
    path.write_bytes(content)
    upload = Upload(
        path=str(path), size=len(content), name="scan.bin", content_type="application/octet-stream"
    )
    return record_file_attach(record=record, field_name=field_name, upload=upload)


def test_cascade_removes_the_files_of_every_deleted_record(
    owner_api, family, tmp_path, django_capture_on_commit_callbacks
):
    grandparent, parent, child, grandchild, other = family
    values = [attach(r, "scan", tmp_path) for r in (parent, grandchild)]
    keys = [file_key(v["file_id"]) for v in values]
    assert all(storage().exists(k) for k in keys)
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_api.delete(f"/data/profile/{grandparent.pk}")[0] == 200
    assert not any(storage().exists(k) for k in keys)
    assert StoredFile.objects.count() == 0


def test_clearing_a_file_field_removes_the_file(
    owner_api, note, create, tmp_path, django_capture_on_commit_callbacks
):
    record = create(klass=note, text="x")
    key = file_key(attach(record, "scan", tmp_path)["file_id"])
    with django_capture_on_commit_callbacks(execute=True):
        status, body = owner_api.put(f"/data/note/{record.pk}", {"scan": None})
    assert status == 200 and body["scan"] is None
    assert not storage().exists(key)


def test_a_failed_delete_keeps_the_files(note, create, owner, tmp_path, monkeypatch):
    record = create(klass=note, text="x")
    key = file_key(attach(record, "scan", tmp_path)["file_id"])

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("django.db.models.query.QuerySet.delete", broken)
    with pytest.raises(RuntimeError):
        services.record_delete(caller=Caller.for_user(owner), klass=note, record_id=record.pk)
    assert storage().exists(key)
    assert StoredFile.objects.count() == 1
