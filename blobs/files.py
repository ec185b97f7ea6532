"""Files held by File fields of records (API.md §6).

A File value is `{"file_id", "name", "size", "content_type"}`; its bytes live in the
configured storage under `files/<file_id>`, and a StoredFile row mirrors each value so that
cleanup knows exactly which objects are still wanted.

`schedule_file_deletion(values)` is the seam the record services call when records (and
their cascaded children) are deleted: the rows go with the caller's transaction, the
objects are removed once it commits (a rolled-back delete keeps its files).
"""

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.files import File
from django.db import transaction

from blobs.backends import storage
from blobs.models import RECORD_FILE_PREFIX, StoredFile
from config.api.errors import NotFound
from records.ids import is_object_id, new_object_id
from records.models import Record

logger = logging.getLogger(__name__)


def file_key(file_id: str) -> str:
    return f"{RECORD_FILE_PREFIX}/{file_id}"


def file_ids(values: Iterable) -> list[str]:
    """The file ids of File-field values; anything that is not one is ignored."""
    return [
        value["file_id"]
        for value in values
        if isinstance(value, dict) and is_object_id(value.get("file_id"))
    ]


def schedule_file_deletion(values: Iterable) -> int:
    """Forget the files of these File-field values now and remove their stored objects when
    the current transaction commits. Answers how many files were scheduled."""
    ids = file_ids(values)
    if not ids:
        return 0
    StoredFile.objects.filter(id__in=ids).delete()
    keys = [file_key(file_id) for file_id in ids]
    transaction.on_commit(lambda: delete_objects(keys))
    return len(ids)


def schedule_owned_objects_deletion(*, application_ids=(), owner_ids=()) -> int:
    """Before applications or users are deleted (their blob and record-file rows go with them
    by CASCADE): remove the stored objects of their blobs, and of the applications' record
    files, once that delete commits. A user's record files stay with the user's records,
    which belong to the application. Answers how many objects were scheduled."""
    from django.db.models import Q

    from blobs.models import Blob

    blobs = Blob.objects.filter(Q(application_id__in=application_ids) | Q(owner_id__in=owner_ids))
    keys = [blob.key for blob in blobs.only("uid")]
    keys += StoredFile.objects.filter(application_id__in=application_ids).values_list(
        "key", flat=True
    )
    if keys:
        transaction.on_commit(lambda: delete_objects(keys))
    return len(keys)


def delete_objects(keys: Iterable[str]) -> None:
    """Remove stored objects; a failure is logged and left to `cleanup_blobs`."""
    store = storage()
    for key in keys:
        try:
            store.delete(key)
        except Exception:  # storage outage: the orphan sweep removes it later
            logger.exception("could not delete stored object %s", key)


# --- attaching and detaching ---------------------------------------------------------------


@dataclass
class Upload:
    """A received file, staged in a local temporary file."""

    path: str
    size: int
    name: str
    content_type: str


def record_file_attach(*, record, field_name: str, upload: Upload) -> dict:
    """Store the upload as the record's `field_name` file, replacing (and removing, on
    commit) the previous one. Answers the field's new value."""
    file_id = new_object_id()
    key = file_key(file_id)
    with open(upload.path, "rb") as handle:
        stored_key = storage().save(key, File(handle, name=key))
    try:
        return _attach(record, field_name, file_id, stored_key, upload)
    except BaseException:
        delete_objects([stored_key])
        raise


@transaction.atomic
def _attach(record, field_name, file_id, key, upload: Upload) -> dict:
    record = _locked(record)
    stored = StoredFile.objects.create(
        id=file_id,
        application_id=record.application_id,
        record_id=record.pk,
        field_name=field_name,
        key=key,
        name=upload.name,
        content_type=upload.content_type,
        size=upload.size,
    )
    _set_value(record, field_name, stored.value())
    return stored.value()


@transaction.atomic
def record_file_detach(*, record, field_name: str) -> bool:
    """Clear the record's `field_name` file; its object goes on commit. False if empty."""
    record = _locked(record)
    if not record.data.get(field_name):
        return False
    _set_value(record, field_name, None)
    return True


def _locked(record) -> Record:
    """The record's row, locked for this transaction; it may have been deleted meanwhile."""
    locked = Record.objects.select_for_update().filter(pk=record.pk).first()
    if locked is None:
        raise NotFound("Record not found")
    return locked


def _set_value(record, field_name: str, value) -> None:
    previous = record.data.get(field_name)
    record.data = {**record.data, field_name: value}
    record.updated_at = int(time.time())
    record.save(update_fields=["data", "updated_at"])
    schedule_file_deletion([previous])


def stored_file_for(record, field_name: str) -> StoredFile | None:
    value = record.data.get(field_name)
    ids = file_ids([value])
    if not ids:
        return None
    return StoredFile.objects.filter(id=ids[0]).first()
