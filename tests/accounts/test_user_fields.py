"""The user fields of the reference page: sign-up, update, validation, uniqueness."""

import pytest

from accounts.models import ApiUser
from blobs.models import Blob
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def test_sign_up_with_the_fields_of_the_page(app_api):
    # The page's sign-up example.
    status, body = app_api.post(
        "/users",
        {
            "user": {
                "login": "Dacia", "password": "petU4or!", "email": "dacia_k@domain.com",
                "facebook_id": "91234409", "twitter_id": "83510562734",
                "full_name": "Dacia Kail ", "phone": "+6110797757", "timezone": 180,
            }
        },
    )  # fmt: skip
    assert status == 201, body
    user = body["user"]
    assert user["full_name"] == "Dacia Kail"
    assert (user["phone"], user["facebook_id"], user["twitter_id"]) == (
        "+6110797757", "91234409", "83510562734",
    )  # fmt: skip
    assert user["timezone"] == 180 and user["website"] is None and user["custom_data"] is None
    row = ApiUser.objects.get(pk=user["id"])
    assert (row.phone, row.timezone, row.facebook_id) == ("+6110797757", 180, "91234409")


def test_update_as_the_page_shows_it(owner_api, owner):
    # The page's update example: the website gains its scheme.
    status, body = owner_api.put(
        f"/users/{owner.pk}",
        {"user": {"email": "pallavi.purushottam@yahoo.com", "website": "pavalli.com.au"}},
    )
    assert status == 200
    assert body["user"]["website"] == "http://pavalli.com.au"
    assert body["user"]["email"] == "pallavi.purushottam@yahoo.com"


def test_every_field_can_be_set_and_cleared(owner_api, owner):
    fields = {
        "phone": "+1 (555) 010-9999",
        "website": "https://owner.example.com/me",
        "external_user_id": 52691165,
        "external_id": "crm-77",
        "facebook_id": "95610574",
        "twitter_id": "83510562734",
        "avatar": "https://cdn.example.com/a.png",
        "custom_data": '{"role": "accountant"}',
        "timezone": -300,
        "tag_list": ["vip", "accountant"],
    }
    status, body = owner_api.put(f"/users/{owner.pk}", {"user": fields})
    assert status == 200, body
    shown = body["user"]
    assert shown["user_tags"] == "vip,accountant"
    for name, value in fields.items():
        if name != "tag_list":
            assert shown[name] == value
    cleared = {name: None for name in fields if name != "tag_list"}
    status, body = owner_api.put(f"/users/{owner.pk}", {"user": cleared})
    assert status == 200
    owner.refresh_from_db()
    assert all(getattr(owner, name) is None for name in cleared)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "call me", "must be digits"),
        ("phone", "+1", "must be digits"),
        ("website", "not a website", "not a valid web address"),
        ("website", "ftp://files.example.com", "not a valid web address"),
        ("timezone", 900, "between -720 and 840"),
        ("timezone", "east", "must be an integer"),
        ("external_user_id", "x1", "must be an integer"),
        ("external_user_id", 0, "between 1 and"),
        ("custom_data", {"a": 1}, "must be a string"),
        ("custom_data", "x" * 65_536, "too long"),
        ("facebook_id", "9" * 65, "too long"),
        ("avatar", ["a"], "must be a string"),
        ("blob_id", 999999, "is not a file of this application"),
        ("blob_id", "abc", "must be an integer"),
    ],
)
def test_invalid_values_are_422_naming_the_field(owner_api, owner, field, value, message):
    status, body = owner_api.put(f"/users/{owner.pk}", {"user": {field: value}})
    assert status == 422
    assert message in body["errors"][field][0]
    owner.refresh_from_db()
    assert getattr(owner, "blob_id" if field == "blob_id" else field) is None


def test_blob_id_is_a_file_of_the_same_application(owner_api, owner, other_application):
    mine = Blob.objects.create(application=owner.application, owner=owner, name="a.png",
                               content_type="image/png")  # fmt: skip
    elsewhere_user = make_user(other_application, "elsewhere")
    theirs = Blob.objects.create(application=other_application, owner=elsewhere_user,
                                 name="b.png", content_type="image/png")  # fmt: skip
    status, body = owner_api.put(f"/users/{owner.pk}", {"user": {"blob_id": theirs.pk}})
    assert status == 422
    status, body = owner_api.put(f"/users/{owner.pk}", {"user": {"blob_id": mine.pk}})
    assert status == 200 and body["user"]["blob_id"] == mine.pk
    mine.delete()  # the avatar's file goes: the user stays, without avatar
    owner.refresh_from_db()
    assert owner.blob_id is None


@pytest.mark.parametrize(
    ("field", "taken", "free"),
    [("facebook_id", "91234409", "555"), ("twitter_id", "835", "836"),
     ("external_id", "x-1", "x-2"), ("external_user_id", 77, 78)],
)  # fmt: skip
def test_external_identities_are_unique_in_an_application(
    owner_api, owner, stranger, other_application, field, taken, free
):
    ApiUser.objects.filter(pk=stranger.pk).update(**{field: taken})
    status, body = owner_api.put(f"/users/{owner.pk}", {"user": {field: taken}})
    assert (status, body) == (422, {"errors": {field: ["has already been taken"]}})
    # the same value in another application is no clash
    ApiUser.objects.filter(pk=make_user(other_application, "other").pk).update(**{field: free})
    assert owner_api.put(f"/users/{owner.pk}", {"user": {field: free}})[0] == 200


def test_another_user_sees_no_email_or_phone_unless_the_application_shows_them(
    api_for, owner, stranger, application
):
    ApiUser.objects.filter(pk=owner.pk).update(phone="+100200300")
    status, body = api_for(stranger).get(f"/users/{owner.pk}")
    assert status == 200
    assert body["user"]["email"] is None and body["user"]["phone"] is None
    assert "password" not in body["user"]
    _, body = api_for(owner).get(f"/users/{owner.pk}")
    assert body["user"]["email"] == "owner@example.com" and body["user"]["phone"] == "+100200300"
    application.users_show_contacts = True
    application.save()
    _, body = api_for(stranger).get(f"/users/{owner.pk}")
    assert body["user"]["email"] == "owner@example.com" and body["user"]["phone"] == "+100200300"
