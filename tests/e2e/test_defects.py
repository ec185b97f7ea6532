"""Defects only a browser shows: script errors, and the Array editor as typed into."""

import pytest

from classes.services import class_create
from records.models import Record
from records.services import record_create

pytestmark = pytest.mark.browser


def test_pages_inside_an_application_run_without_script_errors_and_arrays_keep_types(
    console, application, admin_caller
):
    page = console
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    klass = class_create(
        application=application,
        name="item",
        fields=[{"name": "list", "type": "array"}, {"name": "size", "type": "integer"}],
    )
    record = record_create(
        caller=admin_caller, klass=klass, data={"list": [1, None, True, "1"], "size": 1}
    )
    app = f"/admin/accounts/application/{application.pk}"
    for url in (
        f"{app}/change/",
        f"{app}/custom/",
        f"{app}/custom/item/",
        f"{app}/custom/item/records/",
        f"/admin/accounts/apiuser/?application__id__exact={application.pk}",
        f"{app}/custom/item/records/{record.id}/",
    ):
        page.goto(url)
        page.wait_for_load_state("load")
    assert errors == []
    # Only the Integer changes; then an item is added by its button.
    page.fill("#id_size", "2")
    with page.expect_navigation():
        page.click("#record-form input[type=submit]")
    record.refresh_from_db()
    assert record.data == {"list": [1, None, True, "1"], "size": 2}
    page.click("[data-list-add]")
    page.keyboard.type("false")
    with page.expect_navigation():
        page.click("#record-form input[type=submit]")
    assert Record.objects.get(pk=record.pk).data["list"] == [1, None, True, "1", False]
    assert errors == []
