import json

import pytest
from django.db import connection

from records.ids import new_object_id
from records.models import Record


@pytest.fixture
def add_record(application):
    """add_record(klass, data, user_id=None) -> Record, written straight to the table."""

    def build(klass, data, *, user_id=None):
        return Record.objects.create(
            id=new_object_id(),
            application=application,
            object_class=klass,
            user_id=user_id,
            created_at=1,
            updated_at=1,
            data=data,
        )

    return build


def stored_data(record) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT data FROM records_record WHERE id = %s", [record.pk])
        value = cursor.fetchone()[0]
    return json.loads(value) if isinstance(value, str) else value


def class_indexes(klass) -> dict[str, str]:
    """{indexname: indexdef} of the indexes on records_record that mention this class."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'records_record'"
        )
        rows = cursor.fetchall()
    marker = f"object_class_id = {klass.pk})"
    return {name: definition for name, definition in rows if marker in definition}
