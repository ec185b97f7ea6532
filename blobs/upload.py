"""The filesystem backend's upload endpoint: the multipart form an S3 presigned POST takes.

The form fields come first (as S3 requires, and as the SDK sends them); when the `file`
part arrives its policy has been checked, so a refused upload reads no file bytes at all.
The file is streamed in chunks to a staging file next to the storage and moved under its
key only when it is whole and within the policy's size range; every refusal leaves
nothing behind. Answers and errors are S3-style XML, since clients of a presigned POST
parse those.
"""

import base64
import binascii
import hashlib
import json
import os
import tempfile
import uuid
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from django.core.files import File
from django.db import transaction
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from blobs.backends import absolute, iso_expiration, policy_signature_ok, storage
from blobs.models import MAX_BLOB_BYTES, Blob
from blobs.multipart import FormError, discard_rest, parts

# Room for the form fields and part headers around a file of the largest allowed size.
FORM_OVERHEAD_BYTES = 1024 * 1024
_SIGNATURE_FIELDS = {"policy", "signature", "file"}


class UploadRefused(Exception):
    # `unread`: refused on its declared length alone, the body is left for the server to drop
    unread = False

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _denied(message: str) -> UploadRefused:
    return UploadRefused(403, "AccessDenied", message)


def xml_error(status: int, code: str, message: str) -> HttpResponse:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"<RequestId>{uuid.uuid4().hex}</RequestId></Error>"
    )
    return HttpResponse(body, status=status, content_type="application/xml")


@csrf_exempt
def upload_view(request):
    if request.method != "POST":
        # `/blobs/upload` is also `/blobs/{ident}` with ident "upload": that route answers.
        from blobs.api import BlobView

        return BlobView.as_view()(request, ident="upload")
    try:
        blob, etag, status = receive_upload(request)
    except UploadRefused as exc:
        if not exc.unread:
            discard_rest(request)
        return xml_error(exc.status, exc.code, exc.message)
    except FormError as exc:
        discard_rest(request)
        return xml_error(400, "MalformedPOSTRequest", str(exc))
    if status not in (200, 201):
        return HttpResponse(status=204, headers={"ETag": f'"{etag}"'})
    location = absolute(request, reverse("blob-by-ident", args=[blob.uid]))
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<PostResponse><Location>{escape(location)}</Location><Bucket>local</Bucket>"
        f"<Key>{escape(blob.key)}</Key><ETag>&quot;{etag}&quot;</ETag></PostResponse>"
    )
    return HttpResponse(
        body, status=status, content_type="application/xml", headers={"ETag": f'"{etag}"'}
    )


def receive_upload(request) -> tuple[Blob, str, int]:
    """Check the form against its signed policy, then stream the file under its key.
    Answers (blob, md5 hex, success status)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise UploadRefused(400, "InvalidArgument", "invalid Content-Length") from None
    if length > MAX_BLOB_BYTES + FORM_OVERHEAD_BYTES:
        refusal = _too_large()
        refusal.unread = True
        raise refusal
    fields: dict[str, str] = {}
    staged = None
    try:
        for part in parts(request):
            if part.name != "file":
                fields[part.name.lower()] = part.text()
            elif staged is None:
                blob, size_range = check_policy(fields)
                policy = fields["policy"]
                staged, etag = stage_stream(part.chunks(), size_range)
        # The body ended with its closing boundary: the staged file is the whole file.
        if staged is None:
            raise UploadRefused(400, "InvalidArgument", "POST requires exactly one file upload")
        publish_upload(blob, policy, staged)
    finally:
        if staged is not None and os.path.exists(staged):
            os.unlink(staged)
    return blob, etag, _int(fields.get("success_action_status"), 204)


def check_policy(fields: dict) -> tuple[Blob, tuple[int, int]]:
    """The blob the signed policy allows this form to write, and the allowed size range."""
    policy, signature = fields.get("policy", ""), fields.get("signature", "")
    if not policy or not signature:
        raise _denied("Bucket POST must contain a policy and its signature")
    if not policy_signature_ok(policy, signature):
        raise UploadRefused(
            403, "SignatureDoesNotMatch", "The request signature does not match the policy"
        )
    document = _decode_policy(policy)
    if _expiration(document) <= timezone.now():
        raise _denied("Invalid according to Policy: Policy expired.")
    size_range, covered = _check_conditions(document.get("conditions"), fields)
    extra = set(fields) - covered - _SIGNATURE_FIELDS
    if extra:
        raise _denied(f"Invalid according to Policy: Extra input fields: {sorted(extra)[0]}")
    blob = Blob.objects.filter(uid=fields.get("key", "")).first()
    if not _expects_upload(blob, document.get("expiration")):
        raise _denied("No upload of this key is expected")
    if fields.get("content-type") != blob.content_type:
        raise _denied("Invalid according to Policy: Content-Type")
    return blob, size_range


def _expects_upload(blob, expiration) -> bool:
    """The blob waits for an upload, and the policy is the one of its current upload: a
    reopened blob (`new=1`) gets a later expiration, so older policies no longer match."""
    return (
        blob is not None
        and not blob.is_complete
        and blob.upload_expires_at > timezone.now()
        and expiration == iso_expiration(blob.upload_expires_at)
    )


@transaction.atomic
def publish_upload(blob: Blob, policy: str, staged: str) -> None:
    """Move the staged file under the blob's key, unless the blob was completed or reopened
    while the file arrived. The blob's row stays locked during the move, as `complete`
    locks it while it measures the object: a completed blob's object never changes."""
    current = Blob.objects.select_for_update().filter(pk=blob.pk).first()
    document = _decode_policy(policy)
    if not _expects_upload(current, document.get("expiration")):
        raise UploadRefused(
            409, "OperationAborted", "The upload was completed or reopened meanwhile"
        )
    move_into_storage(staged, current.key)


def _decode_policy(policy: str) -> dict:
    try:
        document = json.loads(base64.b64decode(policy, validate=True))
    except (binascii.Error, ValueError):
        raise UploadRefused(400, "InvalidPolicyDocument", "Invalid Policy: malformed") from None
    if not isinstance(document, dict):
        raise UploadRefused(400, "InvalidPolicyDocument", "Invalid Policy: not an object")
    return document


def _expiration(document: dict) -> datetime:
    try:
        moment = datetime.strptime(document["expiration"], "%Y-%m-%dT%H:%M:%SZ")
    except (KeyError, TypeError, ValueError):
        raise UploadRefused(400, "InvalidPolicyDocument", "Invalid Policy: expiration") from None
    return moment.replace(tzinfo=UTC)


def _check_conditions(conditions, fields: dict) -> tuple[tuple[int, int], set]:
    """Every equality condition must hold; answers the content-length-range and the set of
    field names the policy covers."""
    if not isinstance(conditions, list):
        raise UploadRefused(400, "InvalidPolicyDocument", "Invalid Policy: conditions")
    size_range, covered = (0, MAX_BLOB_BYTES), set()
    for condition in conditions:
        if (
            isinstance(condition, list)
            and len(condition) == 3
            and condition[0] == "content-length-range"
        ):
            size_range = (_int(condition[1], 0), min(_int(condition[2], 0), MAX_BLOB_BYTES))
            continue
        if not isinstance(condition, dict) or len(condition) != 1:
            raise UploadRefused(400, "InvalidPolicyDocument", "Invalid Policy: condition")
        ((name, value),) = condition.items()
        if fields.get(name.lower()) != value:
            raise _denied(
                f'Invalid according to Policy: Policy Condition failed: ["eq", "${name}"]'
            )
        covered.add(name.lower())
    return size_range, covered


def stage_stream(chunks, size_range: tuple[int, int]) -> tuple[str, str]:
    """Write the chunks to a staging file, stopping as soon as the upper bound is passed.
    Answers the staged path and the MD5 hex digest (the ETag)."""
    low, high = size_range
    digest, size = hashlib.md5(usedforsecurity=False), 0
    handle, staged = tempfile.mkstemp(prefix="upload-", dir=staging_dir())
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > high:
                    raise _too_large()
                digest.update(chunk)
                out.write(chunk)
        if size < low:
            raise UploadRefused(400, "EntityTooSmall", "Your proposed upload is too small")
    except BaseException:
        os.unlink(staged)
        raise
    return staged, digest.hexdigest()


def store_stream(key: str, chunks, size_range: tuple[int, int]) -> str:
    """Stage the chunks and move them under `key` (the console's upload, whose form Django
    has already read whole). Answers the MD5 hex digest."""
    staged, etag = stage_stream(chunks, size_range)
    try:
        move_into_storage(staged, key)
    finally:
        if os.path.exists(staged):
            os.unlink(staged)
    return etag


def staging_dir() -> str:
    """Beside the stored files when they are on this disk, so the final move is a rename."""
    store = storage()
    location = getattr(store, "location", None)
    if location:
        path = os.path.join(location, ".incoming")
        os.makedirs(path, exist_ok=True)
        return path
    return tempfile.gettempdir()


def move_into_storage(staged: str, key: str) -> None:
    store = storage()
    try:
        target = store.path(key)
    except NotImplementedError:  # not on this disk: hand the file to the storage
        with open(staged, "rb") as handle:
            store.save(key, File(handle, name=key))
        return
    os.makedirs(os.path.dirname(target), exist_ok=True)
    os.replace(staged, target)


def _too_large() -> UploadRefused:
    return UploadRefused(
        400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size"
    )


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
