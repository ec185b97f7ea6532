"""The record browser's grid, server side: page sizes over the query module's 100 cap,
the OR group, the typed refusal, exports of exactly the view, links, remembered columns."""

import csv
import io
import json

import pytest

from classes.services import class_create
from records.services import record_create
from tests.conftest import make_user

from .conftest import base


@pytest.fixture
def task(application, admin_caller):
    klass = class_create(
        application=application,
        name="task",
        fields=[
            {"name": "size", "type": "integer"},
            {"name": "done", "type": "boolean"},
            {"name": "title", "type": "string"},
        ],
    )
    for n in range(230):
        record_create(
            caller=admin_caller, klass=klass, data={"size": n, "done": n % 2 == 0, "title": f"t{n}"}
        )
    return klass


def ids_on(response) -> list[str]:
    return [row["record"].id for row in response.context["rows"]]


def test_a_page_of_200_is_read_in_windows_and_numbered(staff, application, task):
    url = f"{base(application)}/custom/task/records/"
    response = staff.get(url, {"size": "200", "page": "2"})
    assert len(ids_on(response)) == 30
    first = staff.get(url, {"page": "1"})  # the size is remembered for the class
    assert len(ids_on(first)) == 200 and first.context["page"]["pages"] == 2
    page = staff.get(url, {"size": "25", "page": "5"}).context["page"]
    assert page["links"] == [1, None, 3, 4, 5, 6, 7, None, 10]


def test_or_rows_form_one_group_and_export_gives_exactly_the_view(staff, application, task):
    url = f"{base(application)}/custom/task/records/"
    view = {"f": ["size", "size", "done"], "op": ["or", "or", "eq"], "v": ["3", "4", "true"]}
    response = staff.get(url, view)
    assert [r["record"].data["size"] for r in response.context["rows"]] == [4]  # 3 or 4, done
    assert response.context["page"]["count"] is None  # counted once the page is shown:
    assert staff.get(url, {**view, "total": "1"}).json() == {"count": 1, "exact": True, "pages": 1}
    exported = staff.get(f"{base(application)}/custom/task/export/", {"format": "csv", **view})
    rows = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert [r["size"] for r in rows] == ["4"]
    everything = staff.get(f"{base(application)}/custom/task/export/", {"format": "json"})
    assert len(json.loads(b"".join(everything.streaming_content))) == 230


def test_an_operator_the_type_lacks_is_refused_by_the_query_module(staff, application, task):
    response = staff.get(
        f"{base(application)}/custom/task/records/", {"f": "done", "op": "gt", "v": "1"}
    )
    assert response.context["query_errors"] == [
        "done: operator 'gt' does not apply to a boolean field"
    ]


def test_columns_are_chosen_ordered_and_remembered(staff, application, task):
    url = f"{base(application)}/custom/task/records/"
    staff.get(url, {"cols": "title,size,user_id,nope"})
    page = staff.get(url)
    assert [c["name"] for c in page.context["columns"]] == ["_id", "title", "size", "user_id"]
    assert "done" in page.context["hidden_columns"]


def test_user_and_parent_are_links(staff, application, admin_caller, task):
    owner = make_user(application, "dana")
    parent = record_create(caller=admin_caller, klass=task, data={"title": "parent"})
    child = record_create(
        caller=type(admin_caller).for_user(owner),
        klass=task,
        data={"title": "child", "_parent_id": parent.id},
    )
    page = staff.get(
        f"{base(application)}/custom/task/records/", {"f": "_id", "op": "eq", "v": child.id}
    ).content.decode()
    assert f'href="/admin/accounts/apiuser/{owner.pk}/change/"' in page
    link = f"{base(application)}/records/{parent.id}/"
    assert f'href="{link}"' in page
    assert staff.get(link)["Location"].endswith(f"/custom/task/records/{parent.id}/")


def test_inline_cell_edit_and_add_row(staff, application, task):
    record = task.records.order_by("id").first()
    url = f"{base(application)}/custom/task/records/{record.id}/cell/size/"
    assert 'name="size"' in staff.get(url).json()["form"]
    refused = staff.post(url, {"size": "many"})
    assert refused.status_code == 422 and "must be an integer" in refused.json()["form"]
    saved = staff.post(url, {"size": "77"})
    assert saved.json() == {"cell": {"text": "77", "title": "77"}}
    record.refresh_from_db()
    assert record.data == {"size": 77, "done": True, "title": "t0"}
    add = f"{base(application)}/custom/task/records/add/"
    refused = staff.post(add, {"inline": "1", "size": "x"})
    assert refused.status_code == 422 and "size" in refused.json()["errors"]
    created = staff.post(add, {"inline": "1", "size": "5", "title": "new"}).json()
    assert task.records.get(pk=created["_id"]).data == {"size": 5, "title": "new", "done": False}


def test_the_total_is_counted_up_to_a_cap(staff, application, task, monkeypatch):
    monkeypatch.setattr("console.records.COUNT_CAP", 100)
    url = f"{base(application)}/custom/task/records/"
    page = staff.get(url, {"size": "25"}).context["page"]
    assert (page["count"], page["exact"], page["pages"]) == (100, False, 4)
    assert page["links"] == [1, 2, 3, None]
    far = staff.get(url, {"page": "9"})  # past the cap: counted just past the page asked
    assert far.context["page"]["number"] == 9 and len(ids_on(far)) == 25
    last = staff.get(url, {"page": "10"}).context["page"]
    assert (last["count"], last["exact"], last["number"]) == (230, True, 10)
    filtered = staff.get(url, {"f": "size", "op": "lt", "v": "150", "total": "1"}).json()
    assert filtered == {"count": 100, "exact": False, "pages": 4}
    page = staff.get(url, {"f": "size", "op": "lt", "v": "150"}).context["page"]
    assert (page["count"], page["pages"], page["links"]) == (None, 2, [1, 2, None])
