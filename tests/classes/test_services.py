import pytest

from classes.models import Field, ObjectClass, default_class_permissions
from classes.services import (
    class_create,
    class_delete,
    class_update_permissions,
    field_add,
    field_remove,
    records_affected,
)
from config.api.errors import Unprocessable
from records.models import Record
from tests.classes.conftest import stored_data

pytestmark = pytest.mark.django_db

ALL_TYPES = ["integer", "float", "string", "boolean", "array", "file", "location", "date"]


def errors_of(call, **kwargs) -> dict:
    with pytest.raises(Unprocessable) as info:
        call(**kwargs)
    return info.value.errors


def make_class(application, name="profile", fields=None, **kw):
    fields = fields or [{"name": "age", "type": "integer"}]
    return class_create(application=application, name=name, fields=fields, **kw)


@pytest.mark.parametrize("name", ["profile", "P", "a1_b2", "x" * 64, "Car_2"])
def test_valid_class_names_are_accepted(application, name):
    klass = make_class(application, name)
    assert ObjectClass.objects.get(application=application, name=name) == klass


@pytest.mark.parametrize(
    "name", ["", "1abc", "_x", "has space", "dash-ed", "é", "x" * 65, "abc\n", None]
)
def test_invalid_class_names_are_refused(application, name):
    errors = errors_of(class_create, application=application, name=name, fields={"a": "string"})
    assert list(errors) == ["name"]
    assert not ObjectClass.objects.exists()


def test_duplicate_class_name_is_refused_within_an_application(application, other_application):
    make_class(application, "profile")
    errors = errors_of(
        class_create, application=application, name="profile", fields={"a": "string"}
    )
    assert errors == {"name": ["a class with this name already exists"]}
    make_class(other_application, "profile")  # another application may use the name
    assert ObjectClass.objects.filter(name="profile").count() == 2


def test_a_class_needs_a_field(application):
    errors = errors_of(class_create, application=application, name="empty", fields=[])
    assert errors == {"fields": ["a class needs at least one field"]}


@pytest.mark.parametrize(
    "name", ["_id", "_parent_id", "user_id", "created_at", "updated_at", "permissions", "id"]
)
def test_reserved_field_names_are_refused(application, name):
    errors = errors_of(class_create, application=application, name="c", fields={name: "string"})
    assert errors == {f"fields.{name}": [f"'{name}' is reserved"]}


@pytest.mark.parametrize("name", ["9lives", "a b", "x" * 65, ""])
def test_invalid_field_names_are_refused(application, name):
    errors = errors_of(class_create, application=application, name="c", fields={name: "string"})
    assert len(errors) == 1 and "must start with a letter" in next(iter(errors.values()))[0]


def test_every_type_is_accepted_and_stored_in_order(application):
    fields = [{"name": f"f_{t}", "type": t.title()} for t in ALL_TYPES]
    klass = make_class(application, fields=fields)
    stored = list(klass.fields.values_list("name", "type", "position"))
    assert stored == [(f"f_{t}", t, i) for i, t in enumerate(ALL_TYPES)]


def test_unknown_type_and_duplicate_field_are_refused_together(application):
    errors = errors_of(
        class_create,
        application=application,
        name="c",
        fields=[
            {"name": "a", "type": "text"},
            {"name": "b", "type": "string"},
            {"name": "b", "type": "integer"},
        ],
    )
    assert errors["fields.a"][0].startswith("type must be one of integer, float")
    assert errors["fields.b"] == ["is given twice"]
    assert not ObjectClass.objects.exists()


def test_class_is_created_with_default_permissions(application):
    klass = make_class(application)
    assert klass.permissions == default_class_permissions()


def test_class_create_takes_permissions(application):
    klass = make_class(application, permissions={"read": {"access": "owner"}})
    assert klass.permissions["read"] == {"access": "owner", "use_class_permissions": False}
    assert klass.permissions["update"] == {"access": "owner", "use_class_permissions": False}


def test_class_create_reports_bad_permissions_by_action(application):
    errors = errors_of(
        class_create,
        application=application,
        name="c",
        fields={"a": "string"},
        permissions={"create": {"access": "owner"}},
    )
    assert list(errors) == ["permissions.create"]


def test_update_permissions_keeps_actions_left_out(application):
    klass = make_class(application, permissions={"delete": {"access": "not_allowed"}})
    class_update_permissions(klass=klass, permissions={"read": "owner"})
    klass.refresh_from_db()
    assert klass.permissions["read"]["access"] == "owner"
    assert klass.permissions["delete"]["access"] == "not_allowed"


def test_field_add_appends_and_old_records_stay_null(application, add_record):
    klass = make_class(application)
    old = add_record(klass, {"age": 4})
    field = field_add(klass=klass, name="nick", type="String")
    assert (field.type, field.position, field.indexed) == ("string", 1, False)
    assert stored_data(old) == {"age": 4}
    assert list(klass.fields.values_list("name", flat=True)) == ["age", "nick"]


def test_field_add_refuses_duplicates_and_bad_input(application):
    klass = make_class(application)
    assert errors_of(field_add, klass=klass, name="age", type="float") == {
        "name": ["a field with this name already exists"]
    }
    errors = errors_of(field_add, klass=klass, name="id", type="blob")
    assert errors["name"] == ["'id' is reserved"]
    assert errors["type"][0].startswith("must be one of")
    assert klass.fields.count() == 1


def test_field_remove_removes_values_from_every_record(application, add_record):
    klass = make_class(application, fields={"age": "integer", "nick": "string"})
    other = make_class(application, "other", fields={"nick": "string"})
    with_value = [add_record(klass, {"age": i, "nick": f"n{i}"}) for i in range(3)]
    with_null = add_record(klass, {"age": 9, "nick": None})
    without = add_record(klass, {"age": 10})
    untouched = add_record(other, {"nick": "keep"})
    field = klass.fields.get(name="nick")
    assert records_affected(field) == 3

    assert field_remove(field=field) == 3

    assert [stored_data(r) for r in with_value] == [{"age": 0}, {"age": 1}, {"age": 2}]
    assert stored_data(with_null) == {"age": 9}
    assert stored_data(without) == {"age": 10}
    assert stored_data(untouched) == {"nick": "keep"}
    assert list(klass.fields.values_list("name", flat=True)) == ["age"]


def test_class_delete_removes_records_fields_and_children(application, add_record):
    klass = make_class(application)
    other = make_class(application, "other", fields={"x": "string"})
    parent = add_record(klass, {"age": 1})
    child = add_record(other, {"x": "child"})
    Record.objects.filter(pk=child.pk).update(parent_id=parent.pk)
    grandchild = add_record(other, {"x": "grandchild"})
    Record.objects.filter(pk=grandchild.pk).update(parent_id=child.pk)
    unrelated = add_record(other, {"x": "stays"})

    assert class_delete(klass=klass) == 3

    assert not ObjectClass.objects.filter(pk=klass.pk).exists()
    assert not Field.objects.filter(object_class_id=klass.pk).exists()
    assert list(Record.objects.values_list("pk", flat=True)) == [unrelated.pk]


def test_update_permissions_refuses_bad_levels_by_action(application):
    klass = make_class(application)
    errors = errors_of(
        class_update_permissions,
        klass=klass,
        permissions={"update": {"access": "open_for_users_ids"}, "read": "owner"},
    )
    assert errors == {"update": ["open_for_users_ids needs ids"]}
    klass.refresh_from_db()
    assert klass.permissions == default_class_permissions()  # nothing half-applied
