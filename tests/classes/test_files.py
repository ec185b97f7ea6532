"""Removing a File field or deleting its class removes the stored files, after commit."""

import pytest

from blobs.backends import storage
from blobs.files import Upload, file_key, record_file_attach
from blobs.models import StoredFile
from classes.services import class_create, class_delete, field_remove

pytestmark = pytest.mark.django_db


@pytest.fixture
def with_file(application, add_record, tmp_path):
    klass = class_create(
        application=application, name="doc", fields={"title": "string", "scan": "file"}
    )
    path = tmp_path / "scan.txt"
    path.write_bytes(b"hello")
    record = add_record(klass, {"title": "a"})
    value = record_file_attach(
        record=record,
        field_name="scan",
        upload=Upload(path=str(path), size=5, name="scan.txt", content_type="text/plain"),
    )
    assert storage().exists(file_key(value["file_id"]))
    return klass, value["file_id"]


def test_removing_a_file_field_removes_its_files(with_file, django_capture_on_commit_callbacks):
    klass, file_id = with_file
    with django_capture_on_commit_callbacks(execute=True):
        assert field_remove(field=klass.fields.get(name="scan")) == 1
    assert not StoredFile.objects.filter(pk=file_id).exists()
    assert not storage().exists(file_key(file_id))


def test_deleting_a_class_removes_its_files(with_file, django_capture_on_commit_callbacks):
    klass, file_id = with_file
    with django_capture_on_commit_callbacks(execute=True):
        assert class_delete(klass=klass) == 1
    assert not StoredFile.objects.filter(pk=file_id).exists()
    assert not storage().exists(file_key(file_id))
