"""The schema version and the per-process class cache (classes.selectors).

A change of a class, its permissions or its fields, made in any way, changes the version in
the same transaction; a cached class is served only under the version it was loaded with.
"""

import pytest
from django.db import connection

from classes import selectors
from classes.models import Field, ObjectClass, SchemaVersion
from classes.selectors import class_by_name
from classes.services import class_update_permissions, field_add, field_remove
from config.api.errors import NotFound


def version() -> int:
    return SchemaVersion.objects.get(pk=1).version


@pytest.fixture
def klass(application):
    klass = ObjectClass.objects.create(application=application, name="thing")
    Field.objects.create(object_class=klass, name="age", type="integer")
    return klass


@pytest.mark.parametrize(
    "change",
    [
        lambda k: class_update_permissions(klass=k, permissions={"read": {"access": "owner"}}),
        lambda k: field_add(klass=k, name="job", type="string"),
        lambda k: field_remove(field=k.fields.get(name="age")),
        lambda k: Field.objects.filter(object_class=k).update(type="float"),
        lambda k: ObjectClass.objects.filter(pk=k.pk).delete(),
        lambda k: k.application.delete(),
    ],
    ids=["permissions", "field added", "field removed", "raw update", "class deleted", "app"],
)
def test_every_schema_change_moves_the_version(klass, change):
    before = version()
    change(klass)
    assert version() != before


def test_a_change_through_plain_sql_moves_the_version(klass):
    before = version()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE classes_objectclass SET permissions = '{}' WHERE id = %s", [klass.pk]
        )
    assert version() > before


def test_records_and_users_do_not_move_the_version(klass, owner):
    before = version()
    owner.tags = ["new"]
    owner.save()
    assert version() == before


def test_the_cache_serves_a_class_only_under_its_version(klass, application, monkeypatch):
    selectors._cache.clear()
    first = class_by_name(application=application, name="thing", schema_version=version())
    assert class_by_name(application=application, name="thing", schema_version=version()) is first
    field_add(klass=klass, name="job", type="string")
    again = class_by_name(application=application, name="thing", schema_version=version())
    assert again is not first and set(again.field_map()) == {"age", "job"}
    # without a version (console, commands) the database is always asked
    assert class_by_name(application=application, name="thing") is not again


def test_an_unknown_class_is_not_found_and_not_cached(application):
    with pytest.raises(NotFound):
        class_by_name(application=application, name="nothing", schema_version=version())
    ObjectClass.objects.create(application=application, name="nothing")
    assert class_by_name(application=application, name="nothing", schema_version=version())


def test_a_class_change_is_in_force_on_the_next_request(owner_api, application, klass):
    assert owner_api.post("/data/thing", {"age": 1})[0] == 201
    assert owner_api.post("/data/thing", {"job": "x"})[0] == 422  # no such field yet
    field_add(klass=klass, name="job", type="string")
    assert owner_api.post("/data/thing", {"job": "x"})[0] == 201
    class_update_permissions(klass=klass, permissions={"create": {"access": "not_allowed"}})
    assert owner_api.post("/data/thing", {"age": 2})[0] == 403
