"""The Custom module from the browser: a class with every field type, its permissions and
fields; a record with a value of every type, its permissions, the filter, edit, delete.
Every step is checked in the database or through the API a client uses."""

import pytest

from classes.models import ObjectClass
from classes.services import class_create
from records.models import Record
from records.services import record_create
from tests.conftest import Api, make_user, token_for

pytestmark = pytest.mark.browser

EVERY_TYPE = [
    ("amount", "integer"),
    ("ratio", "float"),
    ("title", "string"),
    ("done", "boolean"),
    ("tags", "array"),
    ("photo", "file"),
    ("place", "location"),
    ("due", "date"),
]


def custom_url(app, *rest):
    return "/".join([f"/admin/accounts/application/{app.pk}/custom", *rest]) + "/"


def test_operator_builds_a_class_with_every_type_and_its_permissions(
    console, application, shot, admin_caller
):
    page = console
    page.goto(f"/admin/accounts/application/{application.pk}/change/")
    page.click("#nav-sidebar >> text=Custom")
    page.click("text=Add new class")
    page.fill("#id_name", "gadget")
    for index, (name, type_) in enumerate(EVERY_TYPE):
        if index:
            page.click("#add-field-row")
        page.fill(f"#id_fields-{index}-name", name)
        page.select_option(f"#id_fields-{index}-type", type_)
    page.check("#id_fields-0-indexed")
    shot(page, "class-add")
    page.click("text=Create class")
    page.wait_for_selector(".messagelist .success")

    klass = ObjectClass.objects.get(application=application, name="gadget")
    assert [(f.name, f.type) for f in klass.fields.all()] == EVERY_TYPE
    assert klass.fields.get(name="amount").indexed

    # Edit permissions: `owner` is not offered for create.
    page.click("#content-main .cb-toolbar >> text=Edit permissions")
    create_levels = page.locator("#id_create-access option").all_inner_texts()
    assert "Owner" not in create_levels and "Open" in create_levels
    page.select_option("#id_read-access", "open_for_groups")
    page.fill("#id_read-groups", "officers, crew")
    page.check("#id_read-use_class_permissions")
    page.select_option("#id_update-access", "open_for_users_ids")
    page.fill("#id_update-ids", "12, 15")
    page.select_option("#id_delete-access", "not_allowed")
    shot(page, "class-permissions")
    page.click("text=Save permissions")
    page.wait_for_selector(".messagelist .success")
    klass.refresh_from_db()
    assert klass.permission("read") == {
        "access": "open_for_groups",
        "groups": ["officers", "crew"],
        "use_class_permissions": True,
    }
    assert klass.permission("update")["access"] == "open_for_users_ids"
    assert klass.permission("update")["ids"] == [12, 15]
    assert klass.permission("delete")["access"] == "not_allowed"
    assert klass.permission("create")["access"] == "open"

    # The class-level read applies at once: a stranger's list is empty, an officer's is not.
    record_create(caller=admin_caller, klass=klass, data={"title": "kept", "amount": 3})
    officer, stranger = (
        make_user(application, "officer", tags=["officers"]),
        make_user(application, "walker"),
    )
    _, listed = Api(token_for(application, officer)).get("/data/gadget")
    _, hidden = Api(token_for(application, stranger)).get("/data/gadget")
    assert [item["title"] for item in listed["items"]] == ["kept"]
    assert hidden["items"] == []

    # Fields: add one, index one, remove one after a warning that counts the records.
    page.fill("#id_new-name", "extra")
    page.select_option("#id_new-type", "string")
    page.click("#field-add-form >> text=Add field")
    page.wait_for_selector(".messagelist .success")
    page.click("tr[data-field=ratio] >> text=Index")
    page.wait_for_selector(".messagelist .success")
    assert klass.fields.get(name="ratio").indexed
    shot(page, "class")
    page.click("tr[data-field=title] >> text=Remove")
    assert page.locator("#affected-count").inner_text() == "1"
    assert "deletes its value from" in page.locator("#remove-warning").inner_text()
    page.click("text=Yes, remove the field")
    page.wait_for_selector(".messagelist .success")
    assert list(klass.fields.values_list("name", flat=True)) == [
        "amount",
        "ratio",
        "done",
        "tags",
        "photo",
        "place",
        "due",
        "extra",
    ]
    assert "title" not in Record.objects.get(object_class=klass).data

    page.goto(custom_url(application))
    assert page.locator("#class-list .cb-record-count").inner_text() == "1"
    shot(page, "custom")


@pytest.fixture
def gadget(application):
    return class_create(
        application=application,
        name="gadget",
        fields=[{"name": n, "type": t} for n, t in EVERY_TYPE],
    )


def test_operator_adds_filters_edits_and_deletes_a_record(console, application, gadget, shot):
    owner, member = make_user(application, "owner"), make_user(application, "mate", tags=["crew"])
    page = console
    page.goto(custom_url(application, "gadget", "records"))
    page.click("text=Add record")
    page.fill("#id_owner", str(owner.pk))
    page.fill("#id_amount", "41")
    page.fill("#id_ratio", "2.5")
    page.fill("#id_title", "Hello, world")
    page.check("#id_done")
    for index, item in enumerate(["red", "blue"]):
        page.click(".field-tags >> text=Add item")
        page.locator("input[name=tags]").nth(index).fill(item)
    page.fill("#id_place_0", "13.4")
    page.fill("#id_place_1", "-52.5")
    page.fill("#id_due", "2024-03-01T12:30:15")
    page.set_input_files(
        "#id_photo",
        files=[{"name": "note.txt", "mimeType": "text/plain", "buffer": b"file bytes \x00\x01"}],
    )
    shot(page, "record-form", full_page=True)
    page.click("text=Create record")
    page.wait_for_selector(".messagelist .success")

    record = Record.objects.get(object_class=gadget)
    assert record.user_id == owner.pk
    photo = record.data.pop("photo")
    assert record.data == {
        "amount": 41,
        "ratio": 2.5,
        "title": "Hello, world",
        "done": True,
        "tags": ["red", "blue"],
        "place": [13.4, -52.5],
        "due": "2024-03-01T12:30:15Z",
    }
    assert photo["name"] == "note.txt" and photo["size"] == 13

    # What a client reads through the API, file included.
    api = Api(token_for(application, owner))
    status, body = api.get(f"/data/gadget/{record.id}")
    assert status == 200 and body["items"][0]["place"] == [13.4, -52.5]
    status, content = api.get(f"/data/gadget/{record.id}/file", {"field_name": "photo"})
    assert status == 200 and content == b"file bytes \x00\x01"

    # Set permissions on record: update for listed ids, delete for a group.
    page.click("text=Set permissions on record")
    page.select_option("#id_update-access", "open_for_users_ids")
    page.fill("#id_update-ids", f"{owner.pk}")
    page.select_option("#id_delete-access", "open_for_groups")
    page.fill("#id_delete-groups", "crew")
    shot(page, "record-permissions")
    page.click("text=Save permissions")
    page.wait_for_selector(".messagelist .success")
    record.refresh_from_db()
    assert (record.update_access, record.update_ids) == ("open_for_users_ids", [owner.pk])
    assert (record.delete_access, record.delete_groups) == ("open_for_groups", ["crew"])
    status, _ = Api(token_for(application, owner)).put(f"/data/gadget/{record.id}", {"amount": 42})
    assert status == 200
    status, _ = Api(token_for(application, member)).put(f"/data/gadget/{record.id}", {"amount": 1})
    assert status == 403

    # Another record, so the filter has something to leave out.
    page.goto(custom_url(application, "gadget", "records", "add"))
    page.fill("#id_owner", "999999")  # not a user of the application: refused, kept on the form
    page.fill("#id_amount", "7")
    page.click("text=Create record")
    assert "No user of this application" in page.locator(".field-owner").inner_text()
    assert Record.objects.filter(object_class=gadget).count() == 1
    page.fill("#id_owner", "")
    page.fill("#id_title", "other")
    page.click("text=Create record")
    page.wait_for_selector(".messagelist .success")

    page.goto(custom_url(application, "gadget", "records"))
    page.select_option("#record-filter select[name=f]", "amount")
    page.select_option("#record-filter select[name=op]", "gt")
    page.fill("#record-filter input[name=v]", "40")
    with page.expect_navigation():  # the filtered page has loaded before it is counted
        page.click("#record-filter >> text=Filter")
    assert page.locator("#record-table tbody tr[data-record-id]").count() == 1
    assert page.locator(f"tr[data-record-id='{record.id}']").count() == 1
    page.select_option("#record-filter select[name=op]", "ctn")
    page.select_option("#record-filter select[name=f]", "title")
    page.fill("#record-filter input[name=v]", "WORLD")
    with page.expect_navigation():  # the filtered page has loaded before it is counted
        page.click("#record-filter >> text=Filter")
    assert page.locator("#record-table tbody tr[data-record-id]").count() == 1
    # A second condition: both must hold.
    page.click("#record-filter >> text=+ condition")
    page.locator("#record-filter select[name=f]").nth(1).select_option("amount")
    page.locator("#record-filter select[name=op]").nth(1).select_option("lt")
    page.locator("#record-filter input[name=v]").nth(1).fill("10")
    with page.expect_navigation():  # the filtered page has loaded before it is counted
        page.click("#record-filter >> text=Filter")
    assert page.locator("#record-table tbody tr[data-record-id]").count() == 0
    page.wait_for_selector("#record-total >> text=0 records")
    page.goto(custom_url(application, "gadget", "records") + "?f=nope&op=eq&v=1")
    assert "nope" in page.locator(".cb-error-list").inner_text()

    page.goto(custom_url(application, "gadget", "records") + "?sort=-amount")
    first = page.locator("#record-table tbody tr[data-record-id]").first
    assert first.get_attribute("data-record-id") == record.id
    shot(page, "records")

    # Edit: change two values and clear one; untouched values stay as they were.
    page.click(f"text={record.id}")
    page.fill("#id_title", "Changed")
    page.fill("#id_ratio", "")
    page.locator(".field-tags [data-list-remove]").first.click()
    page.click("input[value=Save]")
    page.wait_for_selector(".messagelist .success")
    record.refresh_from_db()
    assert record.data["title"] == "Changed" and record.data.get("ratio") is None
    assert record.data["tags"] == ["blue"] and record.data["amount"] == 42
    assert record.data["due"] == "2024-03-01T12:30:15Z" and record.data["done"] is True
    status, body = api.get(f"/data/gadget/{record.id}")
    assert body["items"][0]["title"] == "Changed"

    # Delete one from its page, the other from a selection.
    page.click("#record-form a.deletelink")
    page.click("text=Yes, delete")
    page.wait_for_selector(".messagelist .success")
    assert not Record.objects.filter(pk=record.id).exists()
    status, _ = api.get(f"/data/gadget/{record.id}")
    assert status == 404
    page.check("#record-table input[name=selected]")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("text=Delete selected")
    page.wait_for_selector(".messagelist .success")
    assert not Record.objects.filter(object_class=gadget).exists()
