"""The record page's "why" panel and the browser's "view as": the API's own answers."""

import pytest

from classes.services import class_create
from records.services import record_create
from tests.conftest import make_user

from .conftest import base


@pytest.fixture
def case(application):
    klass = class_create(
        application=application, name="case", fields=[{"name": "n", "type": "integer"}]
    )
    klass.permissions = {
        **klass.permissions,
        "read": {
            "access": "open_for_groups",
            "groups": ["officers"],
            "use_class_permissions": True,
        },
    }
    klass.save()
    return klass


def test_the_why_panel_names_the_rule(staff, application, admin_caller, case):
    owner = make_user(application, "owner")
    officer = make_user(application, "officer", tags=["officers"])
    record = record_create(caller=admin_caller, klass=case, data={"n": 1})
    record.user_id = owner.pk
    record.save()
    url = f"{base(application)}/custom/case/records/{record.id}/"
    page = staff.get(url, {"why": officer.pk}).content.decode()
    assert (
        "class permission read = open_for_groups [officers]; user has tags [officers] → allowed"
        in page
    )
    assert (
        f"record permission update = owner; owner is {owner.pk}, user is {officer.pk} → denied"
        in page
    )
    page = staff.get(url, {"why": "app"}).content.decode()
    assert "application session (no user)" in page and "→ allowed" not in page
    page = staff.get(url, {"why": "424242"}).content.decode()
    assert "No user of this application has the id 424242." in page


def test_view_as_shows_exactly_what_that_user_lists(staff, application, admin_caller, case):
    officer = make_user(application, "officer", tags=["officers"])
    crew = make_user(application, "crew", tags=["crew"])
    for n in range(3):
        record_create(caller=admin_caller, klass=case, data={"n": n})
    url = f"{base(application)}/custom/case/records/"
    assert staff.get(url, {"as": officer.pk}).context["page"]["count"] == 3
    response = staff.get(url, {"as": crew.pk, "f": "n", "op": "gte", "v": "1"})
    assert response.context["rows"] == [] and "Viewing as user" in response.content.decode()
    total = staff.get(url, {"as": crew.pk, "f": "n", "op": "gte", "v": "1", "total": "1"})
    assert total.json()["count"] == 0
    assert staff.get(url, {"as": "app"}).context["page"]["count"] == 0
    assert staff.get(url).context["page"]["count"] == 3
