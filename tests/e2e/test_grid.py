"""The record browser as a grid, in the browser: columns, typed filters with an OR group,
page numbers, inline edit, the add row, export of the view."""

import csv

import pytest

from classes.services import class_create
from records.models import Record
from records.services import record_create

pytestmark = pytest.mark.browser


def test_operator_works_the_grid(console, application, admin_caller, shot):
    page = console
    klass = class_create(
        application=application,
        name="task",
        fields=[
            {"name": "title", "type": "string"},
            {"name": "size", "type": "integer"},
            {"name": "done", "type": "boolean"},
            {"name": "tags", "type": "array"},
        ],
    )
    for n in range(60):
        record_create(
            caller=admin_caller,
            klass=klass,
            data={"title": f"task {n}", "size": n, "done": n % 3 == 0, "tags": ["a", n]},
        )
    page.goto(f"/admin/accounts/application/{application.pk}/custom/task/records/")

    # Columns: hide created_at, put size first; remembered for the class.
    page.click("#column-chooser summary")
    page.uncheck("#column-chooser li[data-col=created_at] input")
    for _ in range(5):
        page.click("#column-chooser li[data-col=size] [data-col-up]")
    page.click("#column-chooser >> text=Apply")
    page.goto(f"/admin/accounts/application/{application.pk}/custom/task/records/")
    headers = page.locator("#record-table thead th[data-col]").evaluate_all(
        "ths => ths.map(th => th.dataset.col)"
    )
    assert headers == ["_id", "size", "user_id", "_parent_id", "title", "done", "tags"]

    # Page size and page numbers.
    page.select_option("#page-size", "50")
    page.wait_for_selector("text=Page 1 of 2")
    page.click(".cb-pager a.cb-page >> text=2")
    assert page.locator("#record-table tbody tr[data-record-id]").count() == 10

    # Typed operators: a Boolean offers no ">", the OR group joins two values of size.
    page.select_option("#record-filter select[name=f]", "done")
    assert page.locator("#record-filter select[name=op] option[value=gt]").is_disabled()
    page.select_option("#record-filter select[name=f]", "size")
    page.select_option("#record-filter select[name=op]", "or")
    page.fill("#record-filter input[name=v]", "3")
    page.click("#record-filter >> text=+ condition")
    page.locator("#record-filter select[name=f]").nth(1).select_option("title")
    page.locator("#record-filter select[name=op]").nth(1).select_option("or")
    page.locator("#record-filter input[name=v]").nth(1).fill("task 7")
    page.click("#record-filter button[type=submit]")
    page.wait_for_selector("#record-total >> text=Page 1 of 1 · 2 records")
    with page.expect_download() as info:
        page.click("#export-csv")
    rows = list(csv.DictReader(open(info.value.path())))
    assert sorted(r["size"] for r in rows) == ["3", "7"]

    # Inline edit of a cell with its typed input; a bad value is refused beside it.
    row = page.locator("#record-table tbody tr[data-record-id]").first
    record_id = row.get_attribute("data-record-id")
    row.locator("td[data-col=size]").dblclick()
    row.locator("td[data-col=size] input[name=size]").fill("1.5")
    row.locator("td[data-col=size] >> text=Save").click()
    page.wait_for_selector("td[data-col=size] .errorlist")
    row.locator("td[data-col=size] input[name=size]").fill("300")
    row.locator("td[data-col=size] >> text=Save").click()
    page.wait_for_selector(f"tr[data-record-id='{record_id}'] td[data-col=size] >> text=300")
    assert Record.objects.get(pk=record_id).data["size"] == 300
    row.locator("td[data-col=tags]").dblclick()
    row.locator("td[data-col=tags] [data-list-add]").click()
    row.locator("td[data-col=tags] input[name=tags]").last.fill("true")
    row.locator("td[data-col=tags] >> text=Save").click()
    page.wait_for_selector(f"tr[data-record-id='{record_id}'] td[data-col=tags] >> text=true")
    assert Record.objects.get(pk=record_id).data["tags"][-1] is True

    # The add row.
    add = page.locator("#inline-add")
    add.locator("[data-add-field=title] textarea").fill("added inline")
    add.locator("[data-add-field=size] input").fill("5")
    with page.expect_navigation():
        add.locator("[data-add-row]").click()
    assert Record.objects.get(data__title="added inline").data["size"] == 5
    page.goto(f"/admin/accounts/application/{application.pk}/custom/task/records/?sort=-size")
    shot(page, "records")
