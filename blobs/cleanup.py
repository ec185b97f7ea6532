"""Garbage collection of storage (`manage.py cleanup_blobs`).

Removes, in this order:
1. blobs whose upload was never declared complete, a day after it was issued (row and object);
2. record files whose record is gone or whose field no longer holds them (row and object);
3. stored objects nothing points to: blob keys without a Blob row, record-file keys without a
   StoredFile row, and staged uploads left by a crash. Objects younger than an hour are left
   alone, so an upload or attach in flight is never swept away mid-way.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from blobs.backends import storage
from blobs.files import delete_objects, file_key
from blobs.models import RECORD_FILE_PREFIX, Blob, StoredFile, is_uid
from records.ids import is_object_id
from records.models import Record

ABANDONED_AFTER = timedelta(days=1)
GRACE = timedelta(hours=1)
STAGING = ".incoming"
BATCH = 1000


@dataclass
class Sweep:
    blobs: list[str] = field(default_factory=list)
    record_files: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return self.blobs + self.record_files + self.orphans


def cleanup(*, dry_run: bool = False) -> Sweep:
    """Find (and unless `dry_run`, remove) everything above. Answers what was found."""
    sweep = Sweep()
    abandoned = list(Blob.objects.abandoned(ABANDONED_AFTER).values_list("pk", "uid"))
    sweep.blobs = [uid for _, uid in abandoned]
    stale = list(stale_record_files())
    sweep.record_files = [key for _, key in stale]
    if not dry_run:
        with transaction.atomic():
            Blob.objects.filter(pk__in=[pk for pk, _ in abandoned]).delete()
            StoredFile.objects.filter(pk__in=[pk for pk, _ in stale]).delete()
        delete_objects(sweep.blobs + sweep.record_files)
    sweep.orphans = list(orphan_objects(exclude=set(sweep.keys)))
    if not dry_run:
        delete_objects(sweep.orphans)
    return sweep


def stale_record_files():
    """(id, key) of StoredFile rows their record no longer points to."""
    rows = StoredFile.objects.order_by("pk").values_list("pk", "key", "record_id", "field_name")
    batch = []
    for row in rows.iterator(chunk_size=BATCH):
        batch.append(row)
        if len(batch) == BATCH:
            yield from _stale_in(batch)
            batch = []
    yield from _stale_in(batch)


def _stale_in(batch):
    data = dict(Record.objects.filter(pk__in={r[2] for r in batch}).values_list("pk", "data"))
    for file_id, key, record_id, field_name in batch:
        value = (data.get(record_id) or {}).get(field_name)
        if not (isinstance(value, dict) and value.get("file_id") == file_id):
            yield file_id, key


def orphan_objects(exclude: set[str]):
    """Keys of stored objects that no row points to, older than the grace period."""
    store = storage()
    cutoff = timezone.now() - GRACE
    dirs, names = _listdir(store, "")
    uids = [name for name in names if is_uid(name) and name not in exclude]
    known = set(Blob.objects.filter(uid__in=uids).values_list("uid", flat=True))
    candidates = [name for name in uids if name not in known]
    if RECORD_FILE_PREFIX in dirs:
        _, names = _listdir(store, RECORD_FILE_PREFIX)
        ids = [n for n in names if is_object_id(n) and file_key(n) not in exclude]
        known = set(StoredFile.objects.filter(pk__in=ids).values_list("pk", flat=True))
        candidates += [file_key(n) for n in ids if n not in known]
    if STAGING in dirs:
        _, names = _listdir(store, STAGING)
        candidates += [f"{STAGING}/{n}" for n in names]
    for key in candidates:
        if _modified(store, key) < cutoff:
            yield key


def _listdir(store, path: str) -> tuple[list[str], list[str]]:
    try:
        return store.listdir(path)
    except FileNotFoundError:
        return [], []


def _modified(store, key: str):
    try:
        return store.get_modified_time(key)
    except (FileNotFoundError, NotImplementedError):
        return timezone.now()  # unknown age: treat as young, never sweep it blindly
