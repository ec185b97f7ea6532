"""The "why" panel and "view as" in the browser."""

import pytest

from classes.services import class_create
from records.services import record_create
from tests.conftest import make_user

pytestmark = pytest.mark.browser


def test_operator_asks_why_and_browses_as_that_user(console, application, admin_caller, shot):
    page = console
    klass = class_create(
        application=application,
        name="report",
        fields=[{"name": "title", "type": "string"}, {"name": "level", "type": "integer"}],
    )
    klass.permissions = {
        **klass.permissions,
        "read": {
            "access": "open_for_groups",
            "groups": ["officers"],
            "use_class_permissions": False,
        },
    }
    klass.save()
    owner = make_user(application, "dana")
    officer = make_user(application, "olga", tags=["officers"])
    owner_caller = type(admin_caller).for_user(owner)
    shared = record_create(
        caller=owner_caller,
        klass=klass,
        data={
            "title": "shared",
            "level": 1,
            "permissions": {"read": {"access": "open_for_groups", "groups": ["officers"]}},
        },
    )
    record_create(
        caller=owner_caller,
        klass=klass,
        data={"title": "private", "level": 2, "permissions": {"read": {"access": "owner"}}},
    )

    page.goto(f"/admin/accounts/application/{application.pk}/custom/report/records/{shared.id}/")
    page.fill("#why-form input[name=why]", str(officer.pk))
    page.click("#why-form button")
    read = page.locator("#why-table tr[data-action=read]")
    assert "allowed" in read.inner_text()
    assert "record permission read = open_for_groups [officers]; user has tags [officers]" in (
        read.inner_text()
    )
    update = page.locator("#why-table tr[data-action=update]").inner_text()
    assert f"owner is {owner.pk}, user is {officer.pk} → denied" in update
    shot(page, "why", full_page=True)

    page.click("text=Browse the records as this user")
    page.wait_for_selector("#viewing-as")
    ids = page.locator("#record-table tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.recordId)"
    )
    assert ids == [shared.id]

    # The audit trail of the application holds the class and its fields, made above.
    page.click("#nav-sidebar >> text=Audit trail")
    page.select_option("#audit-filter select[name=kind]", "class schema")
    page.click("#audit-filter button")
    assert page.locator("#audit-table tbody tr").count() == 2
    assert "report.level" in page.locator("#audit-table").inner_text()
    shot(page, "audit")
