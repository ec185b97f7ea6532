import re

from django.core.exceptions import ValidationError
from django.db import models

from accounts.models import Application

NAME_RE = re.compile(r"\A[A-Za-z][A-Za-z0-9_]{0,63}\Z")  # \Z: "$" would let "a\n" through
RESERVED_FIELD_NAMES = frozenset(
    {"_id", "_parent_id", "user_id", "created_at", "updated_at", "permissions", "id"}
)

ACTIONS = ("create", "read", "update", "delete")
LEVELS = ("open", "owner", "not_allowed", "open_for_groups", "open_for_users_ids")
RECORD_ACTIONS = ("read", "update", "delete")
RECORD_LEVELS = ("open", "owner", "open_for_groups", "open_for_users_ids")


def default_class_permissions() -> dict:
    """API.md §4: create open, read open, update owner, delete owner; switches off."""
    return {
        "create": {"access": "open"},
        "read": {"access": "open", "use_class_permissions": False},
        "update": {"access": "owner", "use_class_permissions": False},
        "delete": {"access": "owner", "use_class_permissions": False},
    }


_DEFAULTS = default_class_permissions()  # read only: ObjectClass.permission copies


def validate_name(value: str) -> None:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise ValidationError(
            "must start with a letter, then letters, digits or _; at most 64 characters"
        )


def validate_field_name(value: str) -> None:
    validate_name(value)
    if value in RESERVED_FIELD_NAMES:
        raise ValidationError(f"'{value}' is reserved")


class FieldType(models.TextChoices):
    INTEGER = "integer", "Integer"
    FLOAT = "float", "Float"
    STRING = "string", "String"
    BOOLEAN = "boolean", "Boolean"
    ARRAY = "array", "Array"
    FILE = "file", "File"
    LOCATION = "location", "Location"
    DATE = "date", "Date"


class ObjectClass(models.Model):
    """A class of custom objects: its name, its fields, and its class permissions.

    `permissions` holds one entry per action: {"access": level, "groups": [...], "ids": [...],
    "use_class_permissions": bool} (the switch only for read/update/delete).
    """

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="classes")
    name = models.CharField(max_length=64, validators=[validate_name])
    permissions = models.JSONField(default=default_class_permissions)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["application_id", "name"]
        verbose_name = "class"
        verbose_name_plural = "classes"
        constraints = [
            models.UniqueConstraint("application", "name", name="objectclass_unique_name")
        ]

    def __str__(self):
        return self.name

    def field_map(self) -> dict[str, "Field"]:
        """Fields by name, cached on the instance (schema lookups happen per parameter)."""
        cached = getattr(self, "_field_map", None)
        if cached is None:
            cached = {f.name: f for f in self.fields.all()}
            self._field_map = cached
        return cached

    def permission(self, action: str) -> dict:
        """The class's entry for `action` over the defaults (a new dict: callers may keep
        it). Every permission check reads it: the defaults are built once."""
        return {**_DEFAULTS[action], **(self.permissions or {}).get(action, {})}

    def uses_class_permissions(self, action: str) -> bool:
        return action == "create" or bool(self.permission(action).get("use_class_permissions"))


class Field(models.Model):
    object_class = models.ForeignKey(ObjectClass, on_delete=models.CASCADE, related_name="fields")
    name = models.CharField(max_length=64, validators=[validate_field_name])
    type = models.CharField(max_length=16, choices=FieldType.choices)
    indexed = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["object_class_id", "position", "id"]
        constraints = [models.UniqueConstraint("object_class", "name", name="field_unique_name")]

    def __str__(self):
        return f"{self.name} ({self.type})"


class SchemaVersion(models.Model):
    """One row whose `version` changes in the same transaction as every change of a class,
    its permissions or its fields, whoever makes it (API, console, import, a cascade, raw
    SQL): PostgreSQL triggers on both tables set it from a sequence (migration 0002).

    The session statement of every API request reads it, and the per-process class cache
    of `classes.selectors` serves a class only when it was loaded under the same version,
    so a schema change is in force on every process from its commit on. A missing row
    (tables emptied by a test) reads as 0, a value the sequence never gives."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.BigIntegerField()

    def __str__(self):
        return f"schema version {self.version}"
