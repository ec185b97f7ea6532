"""Files in records (API.md §6): `/data/{class}/{id}/file` and schedule_file_deletion."""

import time

import pytest
from django.db import transaction

from blobs.files import file_key, schedule_file_deletion
from blobs.models import StoredFile
from classes.models import Field, ObjectClass
from records.ids import new_object_id
from records.models import Record
from tests.blobs.conftest import MultipartStream, post_form, stored_files

PHOTO = bytes(range(256)) * 100


@pytest.fixture
def klass(application):
    klass = ObjectClass.objects.create(application=application, name="profile")
    Field.objects.create(object_class=klass, name="avatar", type="file", position=0)
    Field.objects.create(object_class=klass, name="age", type="integer", position=1)
    return klass


def make_record(klass, owner, **columns) -> Record:
    now = int(time.time())
    return Record.objects.create(
        id=new_object_id(),
        application=klass.application,
        object_class=klass,
        user_id=owner.pk,
        created_at=now,
        updated_at=now,
        data={"avatar": None, "age": 41},
        **columns,
    )


@pytest.fixture
def record(klass, owner):
    return make_record(klass, owner)


def url_of(record) -> str:
    return f"/data/{record.object_class.name}/{record.pk}/file"


@pytest.fixture
def send(client, owner_api):
    def run(
        record,
        content=PHOTO,
        *,
        field="avatar",
        filename="me.png",
        file_type="image/png",
        token=None,
        size=None,
        path=None,
    ):
        fields = {"field_name": field} if field is not None else {}
        stream = MultipartStream(
            fields, content=content, size=size, filename=filename, file_type=file_type
        )
        response = post_form(
            client, path or url_of(record), stream, HTTP_CB_TOKEN=token or owner_api.token
        )
        response.stream = stream
        return response

    return run


def test_upload_sets_the_field_and_stores_the_bytes(send, record, media, owner_api, client):
    response = send(record)
    assert response.status_code == 200
    value = response.json()
    assert set(value) == {"file_id", "size", "name", "content_type"}
    assert value["size"] == len(PHOTO) and value["name"] == "me.png"
    assert value["content_type"] == "image/png"
    record.refresh_from_db()
    assert record.data["avatar"] == value and record.data["age"] == 41
    assert stored_files(media) == [file_key(value["file_id"])]
    assert StoredFile.objects.get(pk=value["file_id"]).record_id == record.pk

    got = client.get(
        url_of(record) + ".json", {"field_name": "avatar"}, HTTP_CB_TOKEN=owner_api.token
    )
    assert got.status_code == 200
    assert got["Content-Type"] == "image/png"
    assert b"".join(got.streaming_content) == PHOTO


def test_upload_without_filename_or_type(send, record):
    response = send(record, b"raw", filename=None, file_type="")
    assert response.status_code == 200
    assert response.json()["size"] == 3


def test_field_name_in_the_query_string(send, record):
    response = send(record, field=None, path=url_of(record) + "?field_name=avatar")
    assert response.status_code == 200
    record.refresh_from_db()
    assert record.data["avatar"]["size"] == len(PHOTO)


def test_replacing_removes_the_previous_file(
    send, record, media, django_capture_on_commit_callbacks
):
    first = send(record).json()
    with django_capture_on_commit_callbacks(execute=True):
        second = send(record, b"new picture").json()
    assert second["file_id"] != first["file_id"]
    assert stored_files(media) == [file_key(second["file_id"])]
    assert not StoredFile.objects.filter(pk=first["file_id"]).exists()
    record.refresh_from_db()
    assert record.data["avatar"] == second


def test_delete_clears_the_field_and_the_object(
    send, record, media, owner_api, django_capture_on_commit_callbacks
):
    send(record)
    with django_capture_on_commit_callbacks(execute=True):
        # the SDK sends DELETE parameters as a form body
        status, body = owner_api.delete(
            url_of(record), {"field_name": "avatar"}, format="multipart"
        )
    assert status == 200
    record.refresh_from_db()
    assert record.data["avatar"] is None
    assert stored_files(media) == [] and not StoredFile.objects.exists()
    assert owner_api.delete(url_of(record) + "?field_name=avatar")[0] == 404
    assert owner_api.get(url_of(record), {"field_name": "avatar"})[0] == 404


def test_file_over_32_mb_is_413_and_nothing_is_kept(send, record, media):
    response = send(record, size=32 * 1024 * 1024 + 1)
    assert response.status_code == 413
    assert "errors" in response.json()
    assert stored_files(media) == [] and not StoredFile.objects.exists()
    record.refresh_from_db()
    assert record.data["avatar"] is None


def test_declared_length_over_the_cap_is_refused_unread(send, record, media):
    response = send(record, size=40 * 1024 * 1024)
    assert response.status_code == 413 and response.stream.read_bytes == 0


@pytest.mark.parametrize(
    "field, key",
    [("age", "age"), ("nope", "nope"), ("", "field_name"), (None, "field_name")],
)
def test_upload_to_a_field_that_is_no_file_field(send, record, media, field, key):
    response = send(record, field=field)
    assert response.status_code == 422
    assert key in response.json()["errors"]
    assert stored_files(media) == []
    record.refresh_from_db()
    assert record.data == {"avatar": None, "age": 41}


def test_upload_without_a_file_part(client, record, owner_api):
    response = client.post(url_of(record), {"field_name": "avatar"}, HTTP_CB_TOKEN=owner_api.token)
    assert response.status_code == 422 and "file" in response.json()["errors"]


def test_get_of_a_non_file_field_is_422(record, owner_api):
    assert owner_api.get(url_of(record), {"field_name": "age"})[0] == 422
    assert owner_api.get(url_of(record))[0] == 422


def test_permissions(send, klass, owner, stranger, api_for, app_api, media, client):
    record = make_record(klass, owner)
    other = api_for(stranger)
    assert send(record, token=other.token).status_code == 403  # update: owner by default
    assert send(record, token=app_api.token).status_code == 403
    assert stored_files(media) == []
    assert send(record).status_code == 200
    assert (
        client.get(url_of(record), {"field_name": "avatar"}, HTTP_CB_TOKEN=other.token).status_code
        == 200
    )
    assert other.delete(url_of(record) + "?field_name=avatar")[0] == 403

    hidden = make_record(klass, owner, read_access="owner")
    assert other.get(url_of(hidden), {"field_name": "avatar"})[0] == 403
    shared = make_record(klass, owner, update_access="open_for_users_ids", update_ids=[stranger.pk])
    assert send(shared, token=other.token).status_code == 200


def test_unknown_class_or_record_is_404(send, record, owner_api):
    assert send(record, path=f"/data/nothing/{record.pk}/file").status_code == 404
    assert send(record, path=f"/data/profile/{new_object_id()}/file").status_code == 404
    assert (
        owner_api.get(f"/data/profile/{new_object_id()}/file", {"field_name": "avatar"})[0] == 404
    )


def test_schedule_file_deletion_runs_on_commit_only(
    send, klass, owner, media, django_capture_on_commit_callbacks
):
    kept, gone = make_record(klass, owner), make_record(klass, owner)
    kept_value, gone_value = send(kept).json(), send(gone).json()

    try:
        with transaction.atomic():
            schedule_file_deletion([kept_value])
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    assert file_key(kept_value["file_id"]) in stored_files(media)
    assert StoredFile.objects.filter(pk=kept_value["file_id"]).exists()

    with django_capture_on_commit_callbacks(execute=True):
        count = schedule_file_deletion([gone_value, None, "junk", {"file_id": "../x"}, 5])
    assert count == 1
    assert stored_files(media) == [file_key(kept_value["file_id"])]
    assert not StoredFile.objects.filter(pk=gone_value["file_id"]).exists()


def test_file_missing_from_storage_is_404(send, record, media, owner_api):
    value = send(record).json()
    (media / file_key(value["file_id"])).unlink()
    status, body = owner_api.get(url_of(record), {"field_name": "avatar"})
    assert status == 404 and "errors" in body


def test_record_deleted_before_the_attach_is_404_and_nothing_kept(send, record, media, monkeypatch):
    import blobs.files_api

    real = blobs.files_api._record

    def check_then_delete(*args):
        found = real(*args)
        Record.objects.filter(pk=record.pk).delete()  # another request wins the race
        return found

    monkeypatch.setattr(blobs.files_api, "_record", check_then_delete)
    response = send(record)
    assert response.status_code == 404 and "errors" in response.json()
    assert stored_files(media) == [] and not StoredFile.objects.exists()
