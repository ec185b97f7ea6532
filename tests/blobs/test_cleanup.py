"""`manage.py cleanup_blobs [--dry-run]`: what goes and what stays."""

import os
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from blobs.files import file_key
from blobs.models import Blob, StoredFile, new_uid
from classes.models import Field, ObjectClass
from records.ids import new_object_id
from records.models import Record
from tests.blobs.conftest import stored_files


def age(path, hours: float) -> None:
    moment = time.time() - hours * 3600
    os.utime(path, (moment, moment))


def put(media, key: str, hours_old: float = 2) -> None:
    path = media / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"bytes")
    age(path, hours_old)


@pytest.fixture
def scene(application, owner, media):
    """A blob of each kind and a record holding one file, with their objects on disk."""
    blobs = {}
    for name, status, days in [("done", "complete", 3), ("fresh", None, 0), ("stale", None, 2)]:
        blob = Blob.objects.create(
            application=application,
            owner=owner,
            name=name,
            content_type="text/plain",
            blob_status=status,
        )
        Blob.objects.filter(pk=blob.pk).update(updated_at=timezone.now() - timedelta(days=days))
        put(media, blob.uid)
        blobs[name] = blob
    klass = ObjectClass.objects.create(application=application, name="doc")
    Field.objects.create(object_class=klass, name="scan", type="file")
    held, dropped = new_object_id(), new_object_id()
    now = int(time.time())
    record = Record.objects.create(
        id=new_object_id(),
        application=application,
        object_class=klass,
        user_id=owner.pk,
        created_at=now,
        updated_at=now,
        data={"scan": {"file_id": held, "name": "a", "size": 5, "content_type": "text/plain"}},
    )
    for file_id in (held, dropped):
        StoredFile.objects.create(
            id=file_id,
            application=application,
            record_id=record.pk,
            field_name="scan",
            key=file_key(file_id),
            name="a",
            content_type="text/plain",
            size=5,
        )
        put(media, file_key(file_id))
    orphans = {"old_uid": new_uid(), "young_uid": new_uid(), "old_file": file_key(new_object_id())}
    put(media, orphans["old_uid"])
    put(media, orphans["young_uid"], hours_old=0.1)
    put(media, orphans["old_file"])
    put(media, ".incoming/upload-abc")
    put(media, "unrelated.txt")
    return {"blobs": blobs, "held": held, "dropped": dropped, **orphans}


def test_dry_run_removes_nothing(scene, media):
    before = stored_files(media)
    out = StringIO()
    call_command("cleanup_blobs", "--dry-run", stdout=out)
    text = out.getvalue()
    assert f"would remove {scene['blobs']['stale'].uid}" in text
    assert (
        "would remove 1 incomplete blob(s), 1 detached record file(s), 3 orphan object(s)" in text
    )
    assert stored_files(media) == before
    assert Blob.objects.count() == 3 and StoredFile.objects.count() == 2


def test_cleanup_removes_exactly_the_garbage(scene, media):
    out = StringIO()
    call_command("cleanup_blobs", stdout=out)
    assert (
        "removed 1 incomplete blob(s), 1 detached record file(s), 3 orphan object(s)"
        in out.getvalue()
    )
    blobs = scene["blobs"]
    assert set(Blob.objects.values_list("name", flat=True)) == {"done", "fresh"}
    assert list(StoredFile.objects.values_list("pk", flat=True)) == [scene["held"]]
    assert stored_files(media) == sorted(
        [
            blobs["done"].uid,
            blobs["fresh"].uid,
            file_key(scene["held"]),
            scene["young_uid"],
            "unrelated.txt",
        ]
    )
