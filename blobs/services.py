"""Writes of the Storage API. Each takes the caller's view of the blob and validated input,
and runs in one transaction; stored objects are removed only after it commits."""

import re
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from blobs.backends import backend
from blobs.files import delete_objects
from blobs.models import COMPLETE, MAX_BLOB_BYTES, Blob, upload_deadline
from classes.types import CoercionError, coerce_boolean, coerce_integer
from config.api.errors import Unprocessable

# type "/" subtype, each an RFC 6838 restricted name, then optional ";param=value" pairs.
_TOKEN = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
MIME_RE = re.compile(rf"^{_TOKEN}/{_TOKEN}(\s*;\s*{_TOKEN}=(\"[^\"]*\"|[^;\s\"]+))*$")
MAX_CONTENT_TYPE = 50
MAX_NAME = 100


def clean_name(value) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_NAME:
        raise Unprocessable({"name": [f"must be 1 to {MAX_NAME} characters"]})
    return value


def clean_content_type(value) -> str:
    if not isinstance(value, str) or len(value) > MAX_CONTENT_TYPE or not MIME_RE.match(value):
        raise Unprocessable(
            {"content_type": [f"must be a MIME type (type/subtype), at most {MAX_CONTENT_TYPE}"]}
        )
    return value


def clean_flag(value, field: str) -> bool:
    if value is None:
        return False
    try:
        return coerce_boolean(value)
    except CoercionError as exc:
        raise Unprocessable({field: [str(exc)]}) from None


def clean_size(value) -> int:
    try:
        size = coerce_integer(value)
    except CoercionError:
        raise Unprocessable({"size": ["must be the file's size in bytes"]}) from None
    if not 0 <= size <= MAX_BLOB_BYTES:
        raise Unprocessable({"size": [f"must be between 0 and {MAX_BLOB_BYTES} bytes"]})
    return size


def blob_create(*, caller, name, content_type, public=None) -> Blob:
    """A new blob of the caller's, waiting for its upload (API.md §7)."""
    return Blob.objects.create(
        application=caller.application,
        owner=caller.user,
        name=clean_name(name),
        content_type=clean_content_type(content_type),
        public=clean_flag(public, "public"),
    )


@transaction.atomic
def blob_complete(*, blob: Blob, size) -> Blob:
    """Declare the upload done: the stored object must exist with exactly `size` bytes."""
    size = clean_size(size)
    # Locked while the object is measured: an upload publishes its file under the same lock
    # and only into a blob that is not complete (blobs/upload.py).
    blob = Blob.objects.select_for_update().get(pk=blob.pk)
    stored = backend().object_size(blob.key)
    if stored is None:
        raise Unprocessable({"base": ["the file has not been uploaded yet"]})
    if stored > MAX_BLOB_BYTES:
        # Only a store that does not enforce the policy lets this in. Removed at once: the
        # refusal rolls this transaction back, and the row never pointed at these bytes.
        delete_objects([blob.key])
        raise Unprocessable({"size": [f"the file is larger than {MAX_BLOB_BYTES} bytes"]})
    if stored != size:
        raise Unprocessable({"size": [f"does not match the uploaded file ({stored} bytes)"]})
    blob.size = size
    if not blob.is_complete:
        blob.blob_status = COMPLETE
        blob.set_completed_at = timezone.now()
    blob.save(update_fields=["size", "blob_status", "set_completed_at", "updated_at"])
    return blob


@transaction.atomic
def blob_update(*, blob: Blob, data: dict) -> tuple[Blob, bool]:
    """Rename, retype, or (`new`) reopen the blob for a fresh upload. Answers the blob and
    whether a new upload was opened; the old object is removed on commit."""
    fields = ["updated_at"]
    if "name" in data:
        blob.name = clean_name(data["name"])
        fields.append("name")
    if "content_type" in data:
        blob.content_type = clean_content_type(data["content_type"])
        fields.append("content_type")
    reopen = clean_flag(data.get("new"), "new")
    if reopen:
        blob.blob_status = None
        blob.size = None
        blob.set_completed_at = None
        # Later than before, to the second: policies of the previous upload stop matching.
        blob.upload_expires_at = max(
            upload_deadline(), blob.upload_expires_at + timedelta(seconds=1)
        )
        fields += ["blob_status", "size", "set_completed_at", "upload_expires_at"]
        key = blob.key
        transaction.on_commit(lambda: delete_objects([key]))
    blob.save(update_fields=fields)
    return blob, reopen


@transaction.atomic
def blob_delete(*, blob: Blob) -> None:
    key = blob.key
    blob.delete()
    transaction.on_commit(lambda: delete_objects([key]))
