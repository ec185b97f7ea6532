from django.contrib.postgres.fields import ArrayField
from django.db import models

from accounts.models import Application
from classes.models import ObjectClass
from config.instances import instance_with


class RecordQuerySet(models.QuerySet):
    """`Record.objects.for_class(klass).visible_to(caller, "read")`: the gate for lists."""

    _record_class = None

    def _clone(self):
        clone = super()._clone()
        clone._record_class = self._record_class
        return clone

    def for_class(self, klass) -> "RecordQuerySet":
        queryset = self.filter(object_class=klass)
        queryset._record_class = klass
        return queryset

    def visible_to(self, caller, action: str = "read") -> "RecordQuerySet":
        """Only the records `caller` may perform `action` on (API.md §4), tested in SQL."""
        from records.permissions import visible_q

        if self._record_class is None:
            raise ValueError("call for_class(klass) before visible_to()")
        return self.filter(visible_q(caller, self._record_class, action))


class Record(models.Model):
    """One record of a custom class. The class's fields live in `data` (JSONB); the record
    permissions live in plain columns so a list query can filter on them in SQL:

    - `<action>_access`: open | owner | open_for_groups | open_for_users_ids
    - `<action>_ids`: user ids for open_for_users_ids; `<action>_groups`: tags for open_for_groups
    """

    id = models.CharField(primary_key=True, max_length=24)
    # No constraint in the database: the class's key below already ties a record to a class
    # that exists, and the class to its application, so this one only repeated that check
    # on every insert (a key-share lock on the application's row at each commit, about 5 %
    # of PostgreSQL's inserts a second). The ORM still cascades an application's deletion
    # to its records, and the index serves it (records/migrations/0005).
    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    # No single-column index: `record_class_id` (object_class, id) starts with it.
    object_class = models.ForeignKey(
        ObjectClass, on_delete=models.CASCADE, related_name="records", db_index=False
    )
    parent_id = models.CharField(max_length=24, null=True, blank=True)
    user_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.BigIntegerField()
    updated_at = models.BigIntegerField()
    data = models.JSONField(default=dict)

    read_access = models.CharField(max_length=20, default="open")
    read_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    read_groups = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    update_access = models.CharField(max_length=20, default="owner")
    update_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    update_groups = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    delete_access = models.CharField(max_length=20, default="owner")
    delete_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    delete_groups = ArrayField(models.CharField(max_length=100), default=list, blank=True)

    objects = RecordQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["object_class", "id"], name="record_class_id"),
            models.Index(fields=["object_class", "user_id", "id"], name="record_class_owner"),
            models.Index(
                fields=["parent_id"],
                name="record_parent",
                condition=models.Q(parent_id__isnull=False),
            ),
        ]

    def __str__(self):
        return self.id


def record_with(columns: dict, db: str | None = None) -> Record:
    """A Record holding `columns` (every concrete column, by attname): read from database
    `db` (as Record.from_db makes it), or unsaved when `db` is None (as Record(**columns)).
    Made without Model.__init__ (config.instances): about 3.5 µs a record less, most of
    the Python a page of 20 spent after its statement, and a third of what live events
    spent on a row."""
    return instance_with(Record, columns, db)


def new_record(object_class, **columns) -> Record:
    """An unsaved Record of `object_class`, as `Record(object_class=..., **columns)` makes
    it: the columns given (by attname), every other at its field's default, the class
    cached on the record. Made without Model.__init__ (record_with): about 9 µs a create
    less."""
    values = {
        field.attname: columns[field.attname] if field.attname in columns else field.get_default()
        for field in Record._meta.concrete_fields
    }
    values["object_class_id"] = object_class.pk
    record = record_with(values)
    record._state.fields_cache["object_class"] = object_class
    return record
