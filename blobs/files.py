"""Files held by File fields of records (API.md §6).

A File value is `{"file_id", "name", "size", "content_type"}`; its bytes live in the
configured storage under `files/<file_id>`, and a StoredFile row mirrors each value so that
cleanup knows exactly which objects are still wanted.

`schedule_file_deletion(values)` is the seam the record services call when records (and
their cascaded children) are deleted: the rows go with the caller's transaction, the
objects are removed once it commits (a rolled-back delete keeps its files).
"""

import logging
from collections.abc import Iterable

from django.db import transaction

from blobs.backends import storage
from blobs.models import RECORD_FILE_PREFIX, StoredFile
from records.ids import is_object_id

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


def delete_objects(keys: Iterable[str]) -> None:
    """Remove stored objects; a failure is logged and left to `cleanup_blobs`."""
    store = storage()
    for key in keys:
        try:
            store.delete(key)
        except Exception:  # storage outage: the orphan sweep removes it later
            logger.exception("could not delete stored object %s", key)
