"""Only staff users reach the console; everyone else lands on the login page."""

import pytest
from django.urls import reverse

from accounts.models import Application
from classes.services import class_create
from records.models import Record


@pytest.fixture
def console_urls(db):
    app = Application.objects.create(name="locked")
    klass = class_create(application=app, name="note", fields=[{"name": "text", "type": "string"}])
    Record.objects.create(
        id="0" * 24, application=app, object_class=klass, created_at=0, updated_at=0, data={}
    )
    a, c, r = app.pk, klass.name, "0" * 24
    names = {
        "admin:index": [],
        "admin:accounts_application_changelist": [],
        "admin:accounts_application_change": [a],
        "admin:accounts_apiuser_changelist": [],
        "admin:console_custom": [a],
        "admin:console_class_add": [a],
        "admin:console_class": [a, c],
        "admin:console_class_permissions": [a, c],
        "admin:console_class_delete": [a, c],
        "admin:console_field_remove": [a, c, "text"],
        "admin:console_class_export": [a, c],
        "admin:console_records": [a, c],
        "admin:console_record_add": [a, c],
        "admin:console_record": [a, c, r],
        "admin:console_record_permissions": [a, c, r],
        "admin:console_record_delete": [a, c, r],
        "admin:console_storage": [a],
        "admin:console_blob_download": [a, 1],
        "admin:console_blob_delete": [a, 1],
        "admin:console_schema_export": [a],
    }
    return [reverse(name, args=args) for name, args in names.items()]


@pytest.fixture
def console_actions(console_urls):
    """The endpoints with no page of their own: POST-only actions, and a record's file."""
    app = Application.objects.get(name="locked")
    a, c, r = app.pk, "note", "0" * 24
    names = {
        "admin:accounts_application_regenerate": [a],
        "admin:console_field_add": [a, c],
        "admin:console_field_index": [a, c, "text"],
        "admin:console_records_delete": [a, c],
        "admin:console_class_import": [a, c],
        "admin:console_blob_upload": [a],
        "admin:console_schema_import": [a],
        "admin:console_record_file": [a, c, r, "text"],
    }
    return [reverse(name, args=args) for name, args in names.items()]


def test_anonymous_and_non_staff_users_get_the_login_page(
    client, django_user_model, console_urls, console_actions
):
    django_user_model.objects.create_user("clerk", password="clerk-password-1", is_staff=False)
    key = Application.objects.get(name="locked").auth_key
    for who in ("anonymous", "clerk"):
        if who == "clerk":
            assert client.login(username="clerk", password="clerk-password-1")
        for url in console_urls + console_actions:
            for method in (client.get, client.post):
                response = method(url)
                assert response.status_code == 302, (who, url)
                assert response["Location"].startswith("/admin/login/"), (who, url)
    assert Application.objects.get(name="locked").auth_key == key
    assert Application.objects.get(name="locked").classes.count() == 1
    assert Record.objects.count() == 1


def test_staff_user_reaches_every_console_page(client, django_user_model, console_urls):
    django_user_model.objects.create_user(
        "boss", password="boss-password-1", is_staff=True, is_superuser=True
    )
    assert client.login(username="boss", password="boss-password-1")
    for url in console_urls:
        response = client.get(url)
        assert response.status_code in (200, 404), url  # 404: blob 1 does not exist
        if "/storage/1/" not in url:
            assert response.status_code == 200, url


@pytest.mark.browser
def test_non_staff_user_cannot_log_in_to_the_console(new_page, django_user_model, transactional_db):
    from tests.e2e.conftest import log_in

    django_user_model.objects.create_user("clerk", password="clerk-password-1", is_staff=False)
    page = new_page()
    log_in(page, "clerk", "clerk-password-1")
    assert "/admin/login/" in page.url
    assert "staff account" in page.locator(".errornote").inner_text()
    page.goto("/admin/accounts/application/")
    assert "/admin/login/" in page.url and page.locator("#user-tools").count() == 0
