"""An operator runs applications and their users from the browser; the API sees the result."""

import pytest
from playwright.sync_api import expect

from accounts.models import ApiUser, Application
from tests.conftest import Api

pytestmark = pytest.mark.browser


def test_operator_creates_an_application_and_regenerates_its_keys(console, shot):
    page = console
    page.goto("/admin/accounts/application/add/")
    page.fill("#id_name", "Field notes")
    page.click("input[name=_save]")
    app = Application.objects.get(name="Field notes")
    assert page.url.endswith(f"/admin/accounts/application/{app.pk}/change/")
    keys = page.locator("code.cb-key")
    assert keys.nth(1).inner_text() == app.auth_key
    assert keys.nth(2).inner_text() == app.auth_secret
    assert page.locator("button.cb-copy").count() == 3
    assert page.locator("#app-counts strong").all_inner_texts() == ["0", "0", "0", "0"]
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.locator("button.cb-copy").nth(1).click()
    # The label changes once the asynchronous clipboard write resolves: wait for it.
    expect(page.locator("button.cb-copy").nth(1)).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == app.auth_key
    shot(page, "application")

    # The keys work for a client at once...
    status, body = Api().post("/session", {"application_id": app.pk, "auth_key": app.auth_key})
    assert status == 201, body

    old_key = app.auth_key
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("text=Regenerate keys")
    page.wait_for_selector(".messagelist .success")
    app.refresh_from_db()
    assert app.auth_key != old_key
    assert page.locator("code.cb-key").nth(1).inner_text() == app.auth_key
    # ...and the old key stops working at once.
    status, _ = Api().post("/session", {"application_id": app.pk, "auth_key": old_key})
    assert status == 401

    page.goto("/admin/accounts/application/")
    shot(page, "applications")
    assert page.locator("#result_list").get_by_text("Field notes").count() == 1


def test_operator_manages_users_with_tags(console, shot):
    app = Application.objects.create(name="Chat")
    page = console
    page.goto(f"/admin/accounts/application/{app.pk}/change/")
    page.click("#nav-sidebar >> text=Users")
    page.click("text=Add user")
    assert page.locator("#id_application").input_value() == str(app.pk)
    page.fill("#id_login", "alice")
    page.fill("#id_email", "alice@example.com")
    page.fill("#id_full_name", "Alice Liddell")
    page.fill("#id_tags_text", "officers, staff")
    page.fill("#id_new_password", "wonderland-1")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")

    alice = ApiUser.objects.get(application=app, login="alice")
    assert alice.tags == ["officers", "staff"]
    assert alice.password != "wonderland-1" and alice.check_password("wonderland-1")
    # The API takes the new user's credentials at once.
    status, body = Api().post(
        "/session",
        {
            "application_id": app.pk,
            "auth_key": app.auth_key,
            "user": {"login": "alice", "password": "wonderland-1"},
        },
    )
    assert status == 201 and body["session"]["user_id"] == alice.pk

    page.fill("#searchbar", "alice")
    page.press("#searchbar", "Enter")
    page.wait_for_url("**q=alice**")
    assert page.locator("#result_list tbody tr").count() == 1
    shot(page, "users")

    page.click("#result_list >> text=alice")
    page.fill("#id_tags_text", "captains")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    alice.refresh_from_db()
    assert alice.tags == ["captains"] and alice.check_password("wonderland-1")

    page.click("#result_list >> text=alice")
    page.click("a.deletelink")
    page.click("input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    assert not ApiUser.objects.filter(pk=alice.pk).exists()
