import re
import secrets
from datetime import timedelta

from django.db import models
from django.utils import timezone

from accounts.models import ApiUser, Application

# A uid is the object's storage key and the unguessable half of a download URL: 34 hex
# characters (17 random bytes), the length ConnectyCube hands out. Routes tell a uid from an
# integer id by shape: 32 or more hex characters is a uid, an integer id never is that long.
UID_RE = re.compile(r"^[0-9a-f]{32,64}$")
MAX_BLOB_BYTES = 100 * 1024 * 1024
MAX_RECORD_FILE_BYTES = 32 * 1024 * 1024
UPLOAD_TTL = timedelta(hours=1)
COMPLETE = "complete"

# Record files live under their own prefix so a listing of blob keys never meets them.
RECORD_FILE_PREFIX = "files"


def new_uid() -> str:
    return secrets.token_hex(17)


def is_uid(value: str) -> bool:
    return bool(UID_RE.match(value or ""))


def upload_deadline():
    return timezone.now() + UPLOAD_TTL


class BlobQuerySet(models.QuerySet):
    def complete(self):
        return self.filter(blob_status=COMPLETE)

    def abandoned(self, older_than: timedelta = timedelta(days=1)):
        """Blobs whose upload was never declared complete, issued longer ago than `older_than`."""
        return self.filter(blob_status__isnull=True, updated_at__lt=timezone.now() - older_than)


class Blob(models.Model):
    """A stored file of the Storage API. The object lives in the configured storage under
    the key `uid`; the row exists from `POST /blobs` on, the object from the upload on."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="blobs")
    owner = models.ForeignKey(ApiUser, on_delete=models.CASCADE, related_name="blobs")
    uid = models.CharField(max_length=64, unique=True, default=new_uid)
    name = models.CharField(max_length=100)
    content_type = models.CharField(max_length=50)
    size = models.BigIntegerField(null=True, blank=True)
    public = models.BooleanField(default=False)
    blob_status = models.CharField(max_length=16, null=True, blank=True)
    set_completed_at = models.DateTimeField(null=True, blank=True)
    upload_expires_at = models.DateTimeField(default=upload_deadline)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BlobQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        verbose_name = "file"
        indexes = [
            models.Index(fields=["application", "owner", "id"], name="blob_owner"),
            models.Index(
                fields=["updated_at"],
                name="blob_incomplete",
                condition=models.Q(blob_status__isnull=True),
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def key(self) -> str:
        return self.uid

    @property
    def is_complete(self) -> bool:
        return self.blob_status == COMPLETE


class StoredFile(models.Model):
    """One file held by a File field of a record. The row makes cleanup exact: an object
    under the record-file prefix with no row, or a row its record no longer points to, is
    garbage."""

    id = models.CharField(primary_key=True, max_length=24)  # the value's `file_id`
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="+")
    record_id = models.CharField(max_length=24)
    field_name = models.CharField(max_length=64)
    key = models.CharField(max_length=200, unique=True)
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["record_id"], name="storedfile_record")]

    def __str__(self):
        return self.name

    def value(self) -> dict:
        """The File field's value (API.md §3)."""
        return {
            "file_id": self.id,
            "name": self.name,
            "size": self.size,
            "content_type": self.content_type,
        }
