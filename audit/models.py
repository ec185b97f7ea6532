"""The audit trail: who changed which class schema, class permission, record permission,
application key or webhook, when, and from what to what.

Rows are written by PostgreSQL triggers (migrations/0001_initial.py) on the tables that hold
those things, so they are part of the transaction of the change whatever made it: the
console, the API, a command, the bulk paths, raw SQL. Nothing in Python writes them.
"""

from django.db import models


class Kind(models.TextChoices):
    APPLICATION = "application", "Application"
    APPLICATION_KEYS = "application keys", "Application keys"
    CLASS = "class", "Class"
    CLASS_SCHEMA = "class schema", "Class schema (fields)"
    CLASS_PERMISSIONS = "class permissions", "Class permissions"
    RECORD_PERMISSIONS = "record permissions", "Record permissions"
    WEBHOOK = "webhook", "Webhook"


class AuditEntry(models.Model):
    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(db_default=models.functions.Now())
    # No foreign key: the trail of a deleted application or class outlives it.
    application_id = models.BigIntegerField(null=True)
    actor = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    target = models.CharField(max_length=300)
    action = models.CharField(max_length=8)  # create, update, delete
    before = models.JSONField(null=True)
    after = models.JSONField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["application_id", "-id"], name="audit_by_application"),
        ]
        verbose_name_plural = "audit entries"

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.kind} {self.target}"

    def changes(self) -> list[tuple[str, object, object]]:
        """(key, before, after) of what differs, for the top-level keys of the two sides."""
        before, after = self.before or {}, self.after or {}
        if not isinstance(before, dict) or not isinstance(after, dict):
            return [("", self.before, self.after)]
        keys = list(dict.fromkeys([*before, *after]))
        return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]
