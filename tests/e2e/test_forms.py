"""What the console's forms refuse, and that a refused form changes nothing (no browser:
the Django test client posts the forms as a browser would)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from blobs.backends import storage
from blobs.models import Blob
from classes.models import ObjectClass
from classes.services import class_create
from records.models import Record
from tests.conftest import make_user


@pytest.fixture
def note(application):
    return class_create(
        application=application,
        name="note",
        fields=[
            {"name": "size", "type": "integer"},
            {"name": "text", "type": "string"},
            {"name": "where", "type": "location"},
        ],
    )


def base(app):
    return f"/admin/accounts/application/{app.pk}"


def formset(*rows):
    data = {"fields-TOTAL_FORMS": len(rows), "fields-INITIAL_FORMS": 0}
    for i, (name, type_) in enumerate(rows):
        data[f"fields-{i}-name"], data[f"fields-{i}-type"] = name, type_
    return data


def test_add_class_refuses_bad_and_reserved_names(staff, application):
    response = staff.post(
        f"{base(application)}/custom/add/", {"name": "1st", **formset(("id", "string"))}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "must start with a letter" in page and "reserved" in page
    response = staff.post(f"{base(application)}/custom/add/", {"name": "empty", **formset()})
    assert "Please submit at least 1 form" in response.content.decode()
    assert not ObjectClass.objects.exists()


def test_add_class_reports_a_name_taken(staff, application, note):
    response = staff.post(
        f"{base(application)}/custom/add/", {"name": "note", **formset(("a", "string"))}
    )
    assert "already exists" in response.content.decode()
    assert ObjectClass.objects.count() == 1


def test_permissions_need_the_groups_or_ids_of_their_level(staff, application, note):
    data = {}
    for action in ("create", "read", "update", "delete"):
        data[f"{action}-access"] = "open"
    data["read-access"] = "open_for_groups"
    data["update-access"] = "open_for_users_ids"
    data["update-ids"] = "12, x"
    response = staff.post(f"{base(application)}/custom/note/permissions/", data)
    page = response.content.decode()
    assert "Give at least one group." in page and "Ids are whole numbers" in page
    data["create-access"] = "owner"
    data["read-groups"], data["update-ids"] = "crew", "12"
    response = staff.post(f"{base(application)}/custom/note/permissions/", data)
    assert "Select a valid choice" in response.content.decode()
    note.refresh_from_db()
    assert note.permission("read")["access"] == "open"


def test_record_form_refuses_a_bad_value_and_stores_nothing(staff, application, note):
    url = f"{base(application)}/custom/note/records/add/"
    response = staff.post(url, {"size": "abc", "text": "hi", "where_lon": "200", "where_lat": "1"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "must be an integer" in page and "longitude must be within" in page
    response = staff.post(url, {"text": "hi", "parent_id": "f" * 24})
    assert "no record of this application has this _id" in response.content.decode()
    assert not Record.objects.exists()

    response = staff.post(url, {"size": "3", "text": "hi", "where_lon": "1.5", "where_lat": "2"})
    assert response.status_code == 302
    record = Record.objects.get()
    assert record.data == {"size": 3, "text": "hi", "where": [1.5, 2.0]}
    # The child of that record, by its _parent_id.
    response = staff.post(url, {"text": "child", "parent_id": record.id})
    assert Record.objects.get(data__text="child").parent_id == record.id


def test_deleting_a_record_from_the_console_deletes_its_children(staff, application, note):
    url = f"{base(application)}/custom/note/records/add/"
    staff.post(url, {"text": "parent"})
    parent = Record.objects.get()
    staff.post(url, {"text": "child", "parent_id": parent.id})
    page = staff.get(f"{base(application)}/custom/note/records/{parent.id}/delete/")
    assert "1 child record" in page.content.decode()
    staff.post(f"{base(application)}/custom/note/records/{parent.id}/delete/")
    assert not Record.objects.exists()


def test_blob_upload_needs_an_owner_of_the_application(staff, application, other_application):
    stranger = make_user(other_application, "elsewhere")
    upload = SimpleUploadedFile("a.txt", b"abc", content_type="text/plain")
    response = staff.post(
        f"{base(application)}/storage/upload/", {"file": upload, "owner": stranger.pk}, follow=True
    )
    assert "Choose a file and its owner." in response.content.decode()
    assert not Blob.objects.exists()


def test_regenerate_keys_action_changes_the_keys_of_the_selected(staff, application):
    old = application.auth_key
    staff.post(
        "/admin/accounts/application/",
        {"action": "regenerate_keys", "_selected_action": [application.pk]},
    )
    application.refresh_from_db()
    assert application.auth_key != old


def test_users_are_found_by_a_tag(staff, application):
    make_user(application, "alice", tags=["officers"])
    make_user(application, "bob", tags=["crew"])
    page = staff.get(
        "/admin/accounts/apiuser/", {"application__id__exact": application.pk, "q": "officers"}
    ).content.decode()
    assert "alice" in page and "bob" not in page


def test_deleting_an_application_counts_what_goes_with_it(
    staff, application, note, django_capture_on_commit_callbacks
):
    alice = make_user(application, "alice")
    upload = SimpleUploadedFile("a.txt", b"abc", content_type="text/plain")
    staff.post(f"{base(application)}/storage/upload/", {"file": upload, "owner": alice.pk})
    blob = Blob.objects.get()
    assert storage().exists(blob.key)
    url = f"/admin/accounts/application/{application.pk}/delete/"
    page = staff.get(url).content.decode()
    assert "1 classes, 0 records, 1 users, 1 files" in page
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(url, {"post": "yes"})
    assert not ObjectClass.objects.exists() and not Blob.objects.exists()
    assert not type(application).objects.filter(pk=application.pk).exists()
    assert not storage().exists(blob.key)


def test_deleting_a_user_removes_their_files(
    staff, application, django_capture_on_commit_callbacks
):
    alice = make_user(application, "alice")
    upload = SimpleUploadedFile("a.txt", b"abc", content_type="text/plain")
    staff.post(f"{base(application)}/storage/upload/", {"file": upload, "owner": alice.pk})
    blob = Blob.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(f"/admin/accounts/apiuser/{alice.pk}/delete/", {"post": "yes"})
    assert not Blob.objects.exists() and not storage().exists(blob.key)


def test_schema_exported_from_one_application_imports_into_another(
    staff, application, other_application, note
):
    response = staff.get(f"{base(application)}/custom/schema.json")
    assert response["Content-Disposition"].endswith(f'classes-{application.pk}.json"')
    schema = SimpleUploadedFile("schema.json", response.content, content_type="application/json")
    response = staff.post(
        f"{base(other_application)}/custom/schema/import/", {"file": schema}, follow=True
    )
    assert "1 class(es) created (note)" in response.content.decode()
    copy = ObjectClass.objects.get(application=other_application, name="note")
    assert [(f.name, f.type) for f in copy.fields.all()] == [
        ("size", "integer"),
        ("text", "string"),
        ("where", "location"),
    ]
    bad = SimpleUploadedFile("bad.json", b'{"classes": [{"name": "9x"}]}')
    response = staff.post(
        f"{base(other_application)}/custom/schema/import/", {"file": bad}, follow=True
    )
    assert ObjectClass.objects.filter(application=other_application).count() == 1
    assert "must start with a letter" in response.content.decode()


def test_a_text_with_line_breaks_survives_an_edit_of_another_field(staff, application, note):
    url = f"{base(application)}/custom/note/records/add/"
    staff.post(url, {"text": "first line\r\nsecond line", "size": "1"})
    record = Record.objects.get()
    assert record.data["text"] == "first line\nsecond line"
    edit = f"{base(application)}/custom/note/records/{record.id}/"
    form = staff.get(edit).context["form"]
    assert form["text"].value() == "first line\nsecond line"
    staff.post(edit, {"text": "first line\r\nsecond line", "size": "2"})
    record.refresh_from_db()
    assert record.data == {"text": "first line\nsecond line", "size": 2}
