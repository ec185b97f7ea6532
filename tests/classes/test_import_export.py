import copy
import io
import json

import pytest
from django.core.management import CommandError, call_command

from classes.models import ObjectClass
from classes.services import class_create, classes_export, classes_import, field_add
from config.api.errors import Unprocessable
from tests.classes.conftest import stored_data

pytestmark = pytest.mark.django_db

SCHEMA = {
    "classes": [
        {
            "name": "profile",
            "fields": [
                {"name": "age", "type": "integer", "indexed": True},
                {"name": "tags", "type": "array"},
            ],
            "permissions": {
                "create": {"access": "open"},
                "read": {"access": "owner", "use_class_permissions": True},
                "update": {"access": "open_for_groups", "groups": ["officers"]},
                "delete": {"access": "open_for_users_ids", "ids": [12, 15]},
            },
        },
        {
            "name": "Car",
            "fields": [
                {"name": "model", "type": "string"},
                {"name": "price", "type": "float"},
                {"name": "new", "type": "boolean"},
                {"name": "photo", "type": "file"},
                {"name": "where", "type": "location"},
                {"name": "sold", "type": "date"},
            ],
            "permissions": {
                "create": {"access": "open"},
                "read": {"access": "open", "use_class_permissions": False},
                "update": {"access": "owner", "use_class_permissions": False},
                "delete": {"access": "not_allowed", "use_class_permissions": True},
            },
        },
    ]
}


def import_errors(application, data) -> dict:
    with pytest.raises(Unprocessable) as info:
        classes_import(application=application, data=data)
    return info.value.errors


def by_name(export: dict) -> dict:
    return {c["name"]: c for c in export["classes"]}


def test_import_then_export_round_trips(application):
    summary = classes_import(application=application, data=SCHEMA)
    assert sorted(summary["created"]) == ["Car", "profile"]
    assert summary["indexes_built"] == {"profile": ["age"]}
    exported = classes_export(application=application)
    expected = copy.deepcopy(SCHEMA)
    expected["classes"][0]["permissions"]["update"]["use_class_permissions"] = False
    expected["classes"][0]["permissions"]["delete"]["use_class_permissions"] = False
    assert by_name(exported) == by_name(expected)


def test_export_then_import_into_another_application_is_equal(application, other_application):
    classes_import(application=application, data=SCHEMA)
    first = classes_export(application=application)
    classes_import(application=other_application, data=json.loads(json.dumps(first)))
    assert classes_export(application=other_application) == first


def test_permissions_left_out_keep_their_defaults(application):
    classes_import(
        application=application,
        data={"classes": [{"name": "p", "fields": [{"name": "a", "type": "String"}]}]},
    )
    [exported] = classes_export(application=application)["classes"]
    assert exported["permissions"]["update"] == {"access": "owner", "use_class_permissions": False}
    assert exported["fields"] == [{"name": "a", "type": "string"}]


def test_import_into_an_existing_class_adds_missing_fields(application, add_record):
    klass = class_create(application=application, name="profile", fields={"age": "integer"})
    field_add(klass=klass, name="nick", type="string")
    old = add_record(klass, {"age": 3, "nick": "x"})

    summary = classes_import(application=application, data=SCHEMA)

    assert summary["updated"] == ["profile"] and summary["created"] == ["Car"]
    assert summary["fields_added"]["profile"] == ["tags"]
    klass.refresh_from_db()
    fields = list(klass.fields.values_list("name", "type", "indexed"))
    assert fields == [("age", "integer", True), ("nick", "string", False), ("tags", "array", False)]
    assert klass.permissions["update"] == {
        "access": "open_for_groups",
        "groups": ["officers"],
        "use_class_permissions": False,
    }
    assert stored_data(old) == {"age": 3, "nick": "x"}


def test_import_without_permissions_keeps_an_existing_class_permissions(application):
    class_create(
        application=application,
        name="p",
        fields={"a": "string"},
        permissions={"read": {"access": "owner"}},
    )
    classes_import(
        application=application,
        data={"classes": [{"name": "p", "fields": [{"name": "b", "type": "integer"}]}]},
    )
    assert ObjectClass.objects.get(name="p").permissions["read"]["access"] == "owner"


def test_a_field_with_another_type_is_an_error_and_nothing_is_written(application):
    class_create(application=application, name="profile", fields={"age": "string"})
    errors = import_errors(application, SCHEMA)
    assert errors == {"profile.fields.age": ["exists as string; the file says integer"]}
    assert list(ObjectClass.objects.values_list("name", flat=True)) == ["profile"]
    assert ObjectClass.objects.get().fields.count() == 1


def test_import_errors_name_the_class_and_field(application):
    data = {
        "classes": [
            {"name": "ok", "fields": [{"name": "a", "type": "integer"}]},
            {"name": "2bad", "fields": [{"name": "a", "type": "integer"}]},
            {"name": "nofields", "fields": []},
            {
                "name": "p",
                "fields": [{"name": "x", "type": "colour"}, {"name": "id", "type": "string"}],
            },
            {
                "name": "q",
                "fields": [{"name": "a", "type": "string"}],
                "permissions": {"create": "owner"},
            },
            {"name": "ok", "fields": [{"name": "b", "type": "integer"}]},
            "nonsense",
        ]
    }
    errors = import_errors(application, data)
    assert errors["2bad.name"][0].startswith("must start with a letter")
    assert errors["nofields.fields"] == ["a class needs at least one field"]
    assert errors["p.fields.x"][0].startswith("type must be one of integer")
    assert errors["p.fields.id"] == ["'id' is reserved"]
    assert "owner" in errors["q.permissions.create"][0]
    assert errors["ok"] == ["is given twice"]
    assert errors["classes[6]"] == ["must be an object with name, fields and permissions"]
    assert not ObjectClass.objects.exists()


@pytest.mark.parametrize("data", [{}, [], {"classes": "profile"}, "text", None])
def test_a_file_of_the_wrong_shape_is_refused(application, data):
    if data == []:
        assert classes_import(application=application, data=data)["created"] == []
        return
    assert list(import_errors(application, data)) == ["classes"]


def test_commands_import_and_export(application, tmp_path):
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(SCHEMA))
    out = io.StringIO()
    call_command("import_classes", str(application.pk), str(path), stdout=out)
    assert sorted(json.loads(out.getvalue())["created"]) == ["Car", "profile"]

    out = io.StringIO()
    call_command("export_classes", str(application.pk), stdout=out)
    assert json.loads(out.getvalue()) == classes_export(application=application)

    target = tmp_path / "out.json"
    call_command("export_classes", str(application.pk), "-o", str(target), stdout=io.StringIO())
    assert json.loads(target.read_text()) == classes_export(application=application)


def test_import_command_reads_stdin(application, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(SCHEMA)))
    call_command("import_classes", str(application.pk), "-", stdout=io.StringIO())
    assert ObjectClass.objects.filter(application=application).count() == 2


def test_import_command_errors(application, tmp_path):
    with pytest.raises(CommandError, match="no application with id 999999"):
        call_command("import_classes", "999999", "-")
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_classes", str(application.pk), str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("import_classes", str(application.pk), str(bad))
    wrong = tmp_path / "wrong.json"
    wrong.write_text(
        json.dumps({"classes": [{"name": "p", "fields": [{"name": "a", "type": "x"}]}]})
    )
    with pytest.raises(CommandError, match=r"nothing imported:\n  p\.fields\.a: type must be"):
        call_command("import_classes", str(application.pk), str(wrong))
    assert not ObjectClass.objects.exists()


def test_export_command_errors(application, tmp_path):
    with pytest.raises(CommandError, match="no application with id abc"):
        call_command("export_classes", "abc")
    with pytest.raises(CommandError, match="cannot write"):
        call_command(
            "export_classes", str(application.pk), "-o", str(tmp_path / "no/such/dir.json")
        )
