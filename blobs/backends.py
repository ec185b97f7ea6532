"""The two places a blob can live, behind one small interface.

`backend()` looks at `STORAGES["default"]`: django-storages' S3Storage gives the S3 backend
(presigned POST for uploads, presigned GET for downloads, `head_object` on complete);
anything else is served by this server (its own upload endpoint checking a signed policy,
its own short-lived signed download URLs). Record files do not need either: they go through
the storage API to be written (`storage.save/delete`) and `backend().open(key)` to be read.
"""

import base64
import json
import time
from datetime import UTC, datetime
from email.utils import formatdate
from urllib.parse import urlencode

from django.conf import settings
from django.core.files.storage import storages
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac

from blobs.models import MAX_BLOB_BYTES, UPLOAD_TTL, Blob

DOWNLOAD_TTL_SECONDS = 600
_UPLOAD_SALT = "cubebase.blobs.upload"
_DOWNLOAD_SALT = "cubebase.blobs.download"


def storage():
    """The configured default storage, looked up on every call so settings changes apply."""
    return storages["default"]


def backend():
    current = storage()
    try:
        from storages.backends.s3 import S3Storage
    except ImportError:  # django-storages without boto3
        S3Storage = ()  # noqa: N806
    if isinstance(current, S3Storage):
        return S3Backend(current)
    return FileSystemBackend(current)


def absolute(request, path: str) -> str:
    base = settings.PUBLIC_URL
    if base:
        return base + path
    return request.build_absolute_uri(path)


def iso_expiration(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FileSystemBackend:
    """Uploads and downloads through this server, authorised by HMACs over SECRET_KEY."""

    name = "filesystem"

    def __init__(self, store):
        self.store = store

    def upload_access(self, blob: Blob, request) -> tuple[str, dict]:
        expires = blob.upload_expires_at
        fields = {
            "key": blob.key,
            "Content-Type": blob.content_type,
            "Expires": formatdate(expires.timestamp(), usegmt=True),
            "success_action_status": "201",
        }
        if blob.public:
            fields["acl"] = "public-read"
        conditions = [{k: v} for k, v in fields.items()]
        conditions.append(["content-length-range", 0, MAX_BLOB_BYTES])
        document = {"expiration": iso_expiration(expires), "conditions": conditions}
        policy = base64.b64encode(json.dumps(document, separators=(",", ":")).encode()).decode()
        fields["policy"] = policy
        fields["signature"] = sign_policy(policy)
        return absolute(request, reverse("blob-upload")), fields

    def object_size(self, key: str) -> int | None:
        if not self.store.exists(key):
            return None
        return self.store.size(key)

    def download_url(self, blob: Blob, request) -> str:
        expires = int(time.time()) + DOWNLOAD_TTL_SECONDS
        query = urlencode({"expires": expires, "signature": sign_download(blob.key, expires)})
        return absolute(request, reverse("blob-content", args=[blob.uid])) + "?" + query

    def delete(self, key: str) -> None:
        self.store.delete(key)

    def open(self, key: str):
        """A file object reading the object from the start, or None if there is none."""
        try:
            return self.store.open(key, "rb")
        except FileNotFoundError:
            return None


class S3Backend:
    """Presigned POST/GET against the bucket of django-storages' S3Storage."""

    name = "s3"

    def __init__(self, store):
        self.store = store
        self.client = store.connection.meta.client

    def upload_access(self, blob: Blob, request) -> tuple[str, dict]:
        fields = {"Content-Type": blob.content_type, "success_action_status": "201"}
        if blob.public:
            fields["acl"] = "public-read"
        conditions = [{k: v} for k, v in fields.items()]
        conditions.append(["content-length-range", 0, MAX_BLOB_BYTES])
        post = self.client.generate_presigned_post(
            Bucket=self.store.bucket_name,
            Key=blob.key,
            Fields=fields,
            Conditions=conditions,
            ExpiresIn=int(UPLOAD_TTL.total_seconds()),
        )
        return post["url"], post["fields"]

    def object_size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.store.bucket_name, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return int(head["ContentLength"])

    def download_url(self, blob: Blob, request) -> str:
        public_base = getattr(settings, "S3_PUBLIC_URL", "")
        if blob.public and public_base:
            return f"{public_base.rstrip('/')}/{blob.key}"
        return self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.store.bucket_name,
                "Key": blob.key,
                "ResponseContentType": blob.content_type,
            },
            ExpiresIn=DOWNLOAD_TTL_SECONDS,
        )

    def delete(self, key: str) -> None:
        self.store.delete(key)

    def open(self, key: str):
        """The object's body as a stream (S3Storage.open would spool it whole first)."""
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.store.bucket_name, Key=key)["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise


def sign_policy(policy: str) -> str:
    return salted_hmac(_UPLOAD_SALT, policy, algorithm="sha256").hexdigest()


def policy_signature_ok(policy: str, signature: str) -> bool:
    return constant_time_compare(sign_policy(policy), signature or "")


def sign_download(key: str, expires: int) -> str:
    return salted_hmac(_DOWNLOAD_SALT, f"{key}:{expires}", algorithm="sha256").hexdigest()


def download_signature_ok(key: str, expires: str, signature: str) -> bool:
    try:
        deadline = int(expires)
    except (TypeError, ValueError):
        return False
    if deadline < time.time():
        return False
    return constant_time_compare(sign_download(key, deadline), signature or "")
