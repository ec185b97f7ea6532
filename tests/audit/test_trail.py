"""The audit trail: written by triggers in the transaction of each change, whatever made it."""

import pytest
from django.db import connection, transaction

from audit.actor import acting_as, command_actor
from audit.models import AuditEntry
from classes.services import class_create, classes_import
from events.models import Webhook
from tests.console.conftest import base


def entries(**filters):
    return list(AuditEntry.objects.filter(**filters).order_by("id"))


@pytest.fixture
def note(application):
    return class_create(
        application=application, name="note", fields=[{"name": "text", "type": "string"}]
    )


def test_console_changes_name_the_operator(staff, application, note):
    AuditEntry.objects.all().delete()
    data = {f"{a}-access": "open" for a in ("create", "read", "update", "delete")}
    data["read-access"] = "open_for_groups"
    data["read-groups"] = "crew"
    assert staff.post(f"{base(application)}/custom/note/permissions/", data).status_code == 302
    staff.post(
        f"{base(application)}/custom/note/fields/add/", {"new-name": "n", "new-type": "integer"}
    )
    staff.post(f"/admin/accounts/application/{application.pk}/regenerate-keys/")
    perms, field, keys = entries()
    assert (perms.actor, perms.kind, perms.target) == ("console:boss", "class permissions", "note")
    assert perms.before["read"]["access"] == "open"
    assert perms.after["read"] == {
        "access": "open_for_groups",
        "groups": ["crew"],
        "use_class_permissions": False,
    }
    assert (field.kind, field.action, field.target, field.after) == (
        "class schema",
        "create",
        "note.n",
        {"name": "n", "type": "integer", "indexed": False},
    )
    application.refresh_from_db()
    assert keys.kind == "application keys" and keys.actor == "console:boss"
    assert keys.after["auth_key"] == application.auth_key[:6] + "…"
    assert application.auth_secret not in str(keys.after)


def test_api_permission_changes_name_the_owner_and_data_changes_write_nothing(
    owner_api, owner, application, note
):
    status, record = owner_api.post("/data/note", {"text": "a"})
    assert status == 201
    AuditEntry.objects.all().delete()
    owner_api.put(f"/data/note/{record['_id']}", {"text": "b"})
    assert entries() == []
    owner_api.put(
        f"/data/note/{record['_id']}",
        {"permissions": {"read": {"access": "open_for_users_ids", "ids": [5, 6]}}},
    )
    (entry,) = entries()
    assert (entry.actor, entry.kind, entry.target, entry.application_id) == (
        f"api:user {owner.pk}",
        "record permissions",
        f"note {record['_id']}",
        application.pk,
    )
    assert entry.before["read"] == {"access": "open", "ids": [], "groups": []}
    assert entry.after["read"] == {"access": "open_for_users_ids", "ids": [5, 6], "groups": []}
    assert entry.changes() == [("read", entry.before["read"], entry.after["read"])]


def test_a_command_names_itself_and_a_rolled_back_change_leaves_no_entry(application, note):
    assert command_actor(["manage.py", "import_classes", "1", "f.json"]) == "command:import_classes"
    assert command_actor(["manage.py", "runserver"]) is None
    AuditEntry.objects.all().delete()
    schema = {"classes": [{"name": "note", "fields": [{"name": "extra", "type": "boolean"}]}]}
    with acting_as("command:import_classes"):
        classes_import(application=application, data=schema)
    assert [(e.actor, e.target) for e in entries()] == [("command:import_classes", "note.extra")]
    with pytest.raises(RuntimeError), transaction.atomic():
        note.permissions = {**note.permissions, "create": {"access": "not_allowed"}}
        note.save()
        raise RuntimeError
    assert len(entries()) == 1


def test_webhooks_are_traced_without_their_secret(application):
    hook = Webhook.objects.create(application=application, url="https://example.com/h")
    hook.enabled = False
    hook.secret = "new-secret-value"
    hook.save()
    hook.delete()
    created, updated, deleted = entries(kind="webhook")
    assert (created.action, updated.action, deleted.action) == ("create", "update", "delete")
    assert updated.changes() == [("enabled", True, False), ("secret", None, "(changed)")]
    assert "new-secret-value" not in str([created.after, updated.after, deleted.before])


def test_the_console_lists_one_application_s_trail_by_kind(
    staff, application, other_application, note
):
    class_create(
        application=other_application, name="elsewhere", fields=[{"name": "x", "type": "string"}]
    )
    url = f"{base(application)}/audit/"
    page = staff.get(url).content.decode()
    assert "note.text" in page and "elsewhere" not in page
    page = staff.get(url, {"kind": "class schema"}).content.decode()
    assert "note.text" in page and 'data-kind="class"' not in page


def test_only_updates_that_set_a_permission_column_reach_the_record_trigger(owner_api, owner, note):
    """The trigger names the nine permission columns (AFTER UPDATE OF), so PostgreSQL
    skips it, WHEN clause and all, for an update that sets none of them (the in-place
    update sets `data` and `updated_at`). What it writes is the same: a permission
    changed by criteria is traced, a field set in place is not."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.attname FROM pg_trigger t JOIN pg_attribute a"
            " ON a.attrelid = t.tgrelid AND a.attnum = ANY(t.tgattr)"
            " WHERE t.tgname = 'audit_record_permissions' ORDER BY a.attnum"
        )
        columns = [row[0] for row in cursor.fetchall()]
    assert columns == [
        f"{action}_{part}"
        for action in ("read", "update", "delete")
        for part in ("access", "ids", "groups")
    ]
    status, record = owner_api.post("/data/note", {"text": "a"})
    assert status == 201
    AuditEntry.objects.all().delete()
    assert owner_api.put(f"/data/note/{record['_id']}", {"text": "b"})[0] == 200
    assert entries() == []
    status, body = owner_api.put(
        "/data/note/by_criteria",
        {
            "search_criteria": {"_id": record["_id"]},
            "permissions": {"delete": {"access": "open_for_users_ids", "ids": [owner.pk]}},
        },
    )
    assert status == 200, body
    (entry,) = entries()
    assert (entry.kind, entry.target) == ("record permissions", f"note {record['_id']}")
    assert entry.after["delete"] == {
        "access": "open_for_users_ids",
        "ids": [owner.pk],
        "groups": [],
    }
