"""The console's defects that changed or dropped data silently, or misled the operator.
Each test posts what the browser posts: the inputs the page itself rendered."""

import re
from html import unescape

import pytest

from accounts.models import ApiUser, Application
from classes.services import class_create
from records.models import Record
from records.services import record_create

from .conftest import base


@pytest.fixture
def item(application):
    return class_create(
        application=application,
        name="item",
        fields=[
            {"name": "list", "type": "array"},
            {"name": "size", "type": "integer"},
            {"name": "photo", "type": "file"},
        ],
    )


def rendered_items(page: str, name: str) -> list[str]:
    """The values of the Array editor's inputs, as the browser would send them back."""
    items = page.split("<template>")[0]
    return [unescape(v) for v in re.findall(rf'name="{name}" value="([^"]*)"', items)]


@pytest.mark.parametrize(
    "stored",
    [[1, None], [True, False, 2.5], ["1", "true", "", "null", '"q"', "text"]],
    ids=["null-item", "booleans", "strings-that-look-like-json"],
)
def test_array_items_keep_their_json_types_when_another_field_is_saved(
    staff, application, admin_caller, item, stored
):
    record = record_create(caller=admin_caller, klass=item, data={"list": stored, "size": 1})
    url = f"{base(application)}/custom/item/records/{record.id}/"
    items = rendered_items(staff.get(url).content.decode(), "list")
    response = staff.post(url, {"list": items, "size": "2"})
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.data == {"list": stored, "size": 2}
    # Saved as shown, once more: still the same values and types.
    items = rendered_items(staff.get(url).content.decode(), "list")
    staff.post(url, {"list": [*items, "7", "seven"], "size": "2"})
    record.refresh_from_db()
    assert record.data["list"] == [*stored, 7, "seven"]


def permission_post(**levels) -> dict:
    data = {f"{action}-access": "open" for action in ("create", "read", "update", "delete")}
    data.update(levels)
    return data


def test_a_stale_id_or_group_of_another_level_does_not_block_the_class_permissions(
    staff, application, item
):
    # The page kept "x" in the hidden ids input after the level changed to "Open".
    data = permission_post(**{"read-ids": "x", "update-groups": "crew"})
    data["update-access"] = "owner"
    response = staff.post(f"{base(application)}/custom/item/permissions/", data)
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.permission("read") == {"access": "open", "use_class_permissions": False}
    assert item.permission("update")["access"] == "owner"
    assert "groups" not in item.permission("update")


def test_a_refused_permission_form_says_so_above_the_levels(staff, application, item):
    data = permission_post(**{"read-access": "open_for_users_ids", "read-ids": "x"})
    page = staff.post(f"{base(application)}/custom/item/permissions/", data).content.decode()
    assert "Not saved:" in page and "Ids are whole numbers" in page


def test_a_stale_id_does_not_block_the_record_permissions(staff, application, admin_caller, item):
    record = record_create(caller=admin_caller, klass=item, data={})
    data = {"read-access": "owner", "read-ids": "x", "update-access": "open"}
    data["delete-access"] = "open_for_groups"
    data["delete-groups"] = "crew"
    url = f"{base(application)}/custom/item/records/{record.id}/permissions/"
    assert staff.post(url, data).status_code == 302
    record.refresh_from_db()
    assert (record.read_access, record.delete_access, record.delete_groups) == (
        "owner",
        "open_for_groups",
        ["crew"],
    )


def test_the_applications_and_users_page_lists_its_models(staff, application, other_application):
    page = staff.get("/admin/accounts/").content.decode()
    assert "No application yet" not in page
    assert "/admin/accounts/application/" in page and "/admin/accounts/apiuser/" in page
    front = staff.get("/admin/").content.decode()
    assert front.count('class="cb-card"') == Application.objects.count() == 2


def test_an_invalid_login_is_named_not_called_missing(staff, application):
    response = staff.post(
        "/admin/accounts/apiuser/add/",
        {"application": application.pk, "login": "a b", "new_password": "password-123"},
    )
    page = response.content.decode()
    assert "3-100 characters with no spaces or commas." in page
    assert "A login or an email is required." not in page
    assert not ApiUser.objects.exists()
    response = staff.post(
        "/admin/accounts/apiuser/add/", {"application": application.pk, "new_password": "x" * 9}
    )
    assert "A login or an email is required." in response.content.decode()


def test_the_record_form_shows_every_error_at_once_in_one_style(staff, application, item):
    url = f"{base(application)}/custom/item/records/add/"
    response = staff.post(url, {"owner": "999999", "size": "abc", "parent_id": "nope"})
    form = response.context["form"]
    assert set(form.errors) == {"owner", "size", "parent_id"}
    page = response.content.decode()
    assert "must be an integer" in page and "No user of this application" in page
    assert page.count('class="errorlist') == 3 and "Not saved:" in page
    assert not Record.objects.exists()


def test_the_record_page_shows_dates_as_the_list_does(staff, application, admin_caller, item):
    record = record_create(caller=admin_caller, klass=item, data={"size": 1})
    Record.objects.filter(pk=record.pk).update(created_at=1_700_000_000, updated_at=1_700_000_060)
    page = staff.get(f"{base(application)}/custom/item/records/{record.id}/").content.decode()
    assert "2023-11-14 22:13:20" in page and "2023-11-14 22:14:20" in page
    assert "1700000000" not in page
    listing = staff.get(f"{base(application)}/custom/item/records/").content.decode()
    assert "2023-11-14 22:13:20" in listing


def test_a_file_field_is_not_offered_an_index(staff, application, item):
    page = staff.get(f"{base(application)}/custom/item/").content.decode()
    photo_row = page.split('data-field="photo"')[1].split("</tr>")[0]
    assert ">Index<" not in photo_row
    response = staff.post(
        f"{base(application)}/custom/item/fields/photo/index/", {"indexed": "1"}, follow=True
    )
    assert "takes no index" in response.content.decode()
    assert not item.fields.get(name="photo").indexed
    response = staff.post(
        f"{base(application)}/custom/item/fields/add/",
        {"new-name": "scan", "new-type": "file", "new-indexed": "on"},
        follow=True,
    )
    assert "takes no index" in response.content.decode()
    assert not item.fields.filter(name="scan").exists()
