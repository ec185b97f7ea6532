"""The event journal, and the webhooks that read it.

The journal (`Event`) is written by PostgreSQL triggers on `records_record` (migration
0001), never by Python: every statement that inserts, updates or deletes records adds one
row per changed record, in the same transaction, and signals `NOTIFY cubebase_events` once
per transaction. So the API, the console, `import_records` and cascade deletes all produce
events without knowing that anyone listens.

`NewVersion` and `OldVersion` are read-only views over the journal that look like the
records table (same column names), so the query compiler of `records.query` can test a
subscription's conditions against the record as it was after or before a change.
"""

import secrets

from django.contrib.postgres.fields import ArrayField
from django.db import models

from accounts.models import Application
from records.models import Record, record_with

CHANNEL = "cubebase_events"
EVENT_TYPES = ("create", "update", "delete")


class Event(models.Model):
    """One committed change of one record.

    `xid` is the writing transaction's id (pg_current_xact_id); readers only read rows whose
    transaction is older than every transaction still running (see `journal.py`), which is
    what makes reading in order safe although `id`s are handed out before commit.
    `new` and `old` are the record row as JSON after and before the change (`old` is null for
    a create, `new` for a delete)."""

    id = models.BigAutoField(primary_key=True)
    xid = models.BigIntegerField(db_index=True)
    op = models.CharField(max_length=6)
    occurred_at = models.BigIntegerField()
    application_id = models.BigIntegerField()
    object_class_id = models.BigIntegerField()
    record_id = models.CharField(max_length=24)
    new = models.JSONField(null=True)
    old = models.JSONField(null=True)

    class Meta:
        indexes = [models.Index(fields=["occurred_at"], name="event_occurred")]

    def __str__(self):
        return f"{self.op} {self.record_id} (#{self.id})"


class JournalState(models.Model):
    """One row: how far the journal was pruned (`pruned_xid`: the largest transaction id
    whose events were removed) and how far webhook dispatch has read (`dispatched_*`)."""

    id = models.SmallIntegerField(primary_key=True, default=1)
    pruned_xid = models.BigIntegerField(default=0)
    dispatched_lo = models.BigIntegerField(null=True)
    dispatched_hi = models.BigIntegerField(null=True)
    dispatched_seq = models.BigIntegerField(default=0)

    def __str__(self):
        return f"pruned up to transaction {self.pruned_xid}"


class Listener(models.Model):
    """A class whose changes the journal keeps because a subscription may read them
    (events.listeners). The journal trigger keeps a record's change when its class has a
    row here whose `until` (unix seconds) has not passed, or when its application has an
    enabled webhook; otherwise it writes nothing. Every transaction whose id is `since`
    or above has been journaled for this class without a gap; a subscription that
    resumes from before `since` is told to reset."""

    object_class_id = models.BigIntegerField(primary_key=True)
    until = models.BigIntegerField()
    since = models.BigIntegerField()

    def __str__(self):
        return f"class {self.object_class_id} until {self.until}"


class _Version(models.Model):
    """A record version as the journal keeps it, under the records table's column names."""

    id = models.CharField(primary_key=True, max_length=24)
    event_id = models.BigIntegerField()
    object_class_id = models.BigIntegerField()
    parent_id = models.CharField(max_length=24, null=True)
    user_id = models.BigIntegerField(null=True)
    created_at = models.BigIntegerField()
    updated_at = models.BigIntegerField()
    data = models.JSONField()

    class Meta:
        abstract = True
        managed = False

    def __str__(self):
        return f"{self.id} (event #{self.event_id})"


class NewVersion(_Version):
    class Meta(_Version.Meta):
        db_table = "events_new_version"


class OldVersion(_Version):
    class Meta(_Version.Meta):
        db_table = "events_old_version"


RECORD_COLUMNS = tuple(
    f.attname for f in Record._meta.concrete_fields if f.attname not in ("application_id",)
)
_OTHER_COLUMNS = tuple(
    f.attname for f in Record._meta.concrete_fields if f.attname not in RECORD_COLUMNS
)
_ALL_COLUMNS = frozenset(RECORD_COLUMNS + _OTHER_COLUMNS)
_OTHERS_UNSET = dict.fromkeys(_OTHER_COLUMNS)


def record_from_json(row: dict | None) -> Record | None:
    """A journal version (`to_jsonb` of a records row) as an unsaved Record. Every server
    process with subscribers makes one for each row a subscriber may see; a version
    missing a column added since it was written goes through Record() and its defaults."""
    if row is None:
        return None
    if row.keys() == _ALL_COLUMNS:  # as written today: the common case, in one comparison
        return record_with({**row, **_OTHERS_UNSET})
    if all(name in row for name in RECORD_COLUMNS):
        columns = {name: row[name] for name in RECORD_COLUMNS}
        return record_with({**columns, **_OTHERS_UNSET})
    return Record(**{name: row.get(name) for name in RECORD_COLUMNS if name in row})


def new_secret() -> str:
    return secrets.token_hex(24)


class Webhook(models.Model):
    """Where an application's record events are POSTed (API.md §9)."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="+")
    url = models.URLField(max_length=2000)
    secret = models.CharField(max_length=100, default=new_secret)
    classes = ArrayField(
        models.CharField(max_length=64),
        default=list,
        blank=True,
        help_text="Class names, comma-separated; empty means every class.",
    )
    event_types = ArrayField(
        models.CharField(max_length=6),
        default=list,
        blank=True,
        help_text="create, update, delete; empty means all three.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.url

    def wants(self, class_name: str, op: str) -> bool:
        return (not self.classes or class_name in self.classes) and (
            not self.event_types or op in self.event_types
        )


class Delivery(models.Model):
    """One event to deliver to one webhook; its body is fixed when it is created, so every
    attempt sends the same `id` and bytes (a new signature time only)."""

    PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.BigIntegerField()
    event_type = models.CharField(max_length=20)
    body = models.TextField()
    status = models.CharField(max_length=10, default=PENDING)
    attempts = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["webhook", "event_id"], name="delivery_once")
        ]

    def __str__(self):
        return f"event {self.event_id} → {self.webhook}"


class Attempt(models.Model):
    """One POST of a delivery: what the receiver answered, or why there was no answer."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(auto_now_add=True)
    status_code = models.IntegerField(null=True, blank=True)
    duration_ms = models.IntegerField(default=0)
    excerpt = models.CharField(max_length=500, blank=True, default="")
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-at"]

    def __str__(self):
        return f"{self.status_code or self.error} at {self.at}"
