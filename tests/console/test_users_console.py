"""The console edits the profile fields of users with the API's rules, and the two Users
API settings of an application."""

import pytest

from accounts.models import ApiUser, Application
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def user_form(user, **changes):
    data = {
        "login": user.login, "email": user.email or "", "full_name": user.full_name,
        "tags_text": ", ".join(user.tags), "new_password": "",
        **{name: "" for name in ("phone", "website", "avatar", "blob_id", "timezone",
                                 "external_user_id", "external_id", "facebook_id",
                                 "twitter_id", "custom_data")},
    }  # fmt: skip
    data.update(changes)
    return data


def test_profile_fields_are_saved_with_the_api_rules(staff, application):
    dana = make_user(application, "dana")
    url = f"/admin/accounts/apiuser/{dana.pk}/change/"
    page = staff.get(url)
    assert page.status_code == 200 and b'name="phone"' in page.content
    answer = staff.post(url, user_form(dana, phone="+6110797757", website="dana.example.com",
                                       timezone="180", custom_data='{"a": 1}'))  # fmt: skip
    assert answer.status_code == 302
    dana.refresh_from_db()
    assert (dana.phone, dana.website, dana.timezone, dana.custom_data) == (
        "+6110797757", "http://dana.example.com", 180, '{"a": 1}',
    )  # fmt: skip


def test_bad_or_taken_values_are_shown_and_nothing_changes(staff, application):
    dana = make_user(application, "dana")
    ApiUser.objects.filter(pk=make_user(application, "eve").pk).update(facebook_id="777")
    url = f"/admin/accounts/apiuser/{dana.pk}/change/"
    answer = staff.post(url, user_form(dana, phone="call me", timezone="9999"))
    assert answer.status_code == 200
    assert b"Must be digits" in answer.content and b"Must be between -720 and 840" in answer.content
    answer = staff.post(url, user_form(dana, facebook_id="777"))
    assert answer.status_code == 200 and b"taken by another user" in answer.content
    dana.refresh_from_db()
    assert (dana.phone, dana.timezone, dana.facebook_id) == (None, None, None)


def test_the_users_api_settings_of_an_application(staff, application):
    url = f"/admin/accounts/application/{application.pk}/change/"
    page = staff.get(url)
    assert b"List users API v1" in page.content
    assert b"Show email and phone to other users" in page.content
    answer = staff.post(url, {"name": application.name, "users_api_v1": "on",
                              "users_show_contacts": "on"})  # fmt: skip
    assert answer.status_code == 302
    application.refresh_from_db()
    assert application.users_api_v1 and application.users_show_contacts
    staff.post(url, {"name": application.name})
    application.refresh_from_db()
    assert not application.users_api_v1 and not application.users_show_contacts
    assert Application(name="new").users_api_v1 is False  # off by default


def test_an_add_without_application_is_an_error_not_a_crash(staff, application):
    answer = staff.post("/admin/accounts/apiuser/add/",
                        {"login": "dana", "new_password": "x" * 9, "external_user_id": "12"})  # fmt: skip
    assert answer.status_code == 200 and b"This field is required" in answer.content
    assert not ApiUser.objects.exists()
