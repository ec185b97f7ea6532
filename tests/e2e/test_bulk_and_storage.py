"""Import and export from the class page, and the Storage module, from the browser."""

import csv
import io

import pytest

from blobs.backends import storage
from blobs.models import Blob
from classes.services import class_create
from records.models import Record
from tests.conftest import Api, make_user, token_for

pytestmark = pytest.mark.browser

BAD_LINES = {11: "lots", 502: "2.5", 1001: "x9"}  # line number in the file -> bad integer


def test_operator_imports_a_csv_and_sees_the_bad_lines(console, application, shot, tmp_path):
    klass = class_create(
        application=application,
        name="reading",
        fields=[{"name": "amount", "type": "integer"}, {"name": "label", "type": "string"}],
    )
    lines = ["amount,label"]
    for line in range(2, 1002):  # 1,000 rows after the header
        lines.append(f"{BAD_LINES.get(line, line)},row {line}")
    source = tmp_path / "readings.csv"
    source.write_text("\n".join(lines) + "\n")

    page = console
    page.goto(f"/admin/accounts/application/{application.pk}/custom/reading/")
    page.set_input_files("#import-form input[name=file]", str(source))
    page.click("#import-form >> text=Import")
    page.wait_for_selector("#import-summary")
    shot(page, "import")

    assert page.locator("#imported-count").inner_text() == "997"
    assert page.locator("#failed-count").inner_text() == "3"
    reported = page.locator("#import-errors tbody tr").all_inner_texts()
    assert len(reported) == 3
    assert [int(row.split()[0]) for row in reported] == sorted(BAD_LINES)
    assert all("amount" in row for row in reported)
    assert Record.objects.filter(object_class=klass).count() == 997
    assert not Record.objects.filter(object_class=klass, data__label="row 11").exists()
    # The progress bar ran to its end; the refused rows download as a CSV.
    assert page.locator("[data-import-status]").inner_text() == "Done."
    with page.expect_download() as info:
        page.click("#rejected-download")
    refused = list(csv.DictReader(open(info.value.path())))
    assert [(int(r["line"]), r["row"]) for r in refused] == [
        (11, "lots,row 11"),
        (502, "2.5,row 502"),
        (1001, "x9,row 1001"),
    ]

    # The browser pages through them: 25 a page, in _id order.
    page.goto(f"/admin/accounts/application/{application.pk}/custom/reading/records/?page=2")
    assert page.locator("#record-table tbody tr[data-record-id]").count() == 25
    assert "Page 2 of 40 · 997 records" in page.locator("#record-total").inner_text()
    labels = page.locator("#record-table tbody tr[data-record-id]").all_inner_texts()
    assert "row 28" in labels[0] and "row 52" in labels[-1]  # line 11 was refused
    page.click(".cb-pager a[rel=next]")
    assert "Page 3 of 40" in page.locator("#record-total").inner_text()

    # The API sees the import at once.
    status, body = Api(token_for(application)).get("/data/reading", {"count": 1})
    assert status == 200 and body["items_count"] == 997

    # Export: the class as CSV and as JSON, as downloads.
    page.goto(f"/admin/accounts/application/{application.pk}/custom/reading/")
    with page.expect_download() as info:
        page.click("text=Download CSV")
    exported = list(csv.DictReader(io.StringIO(open(info.value.path()).read())))
    assert len(exported) == 997
    assert {row["label"] for row in exported} >= {"row 2", "row 1000"}
    with page.expect_download() as info:
        page.click("text=Download JSON")
    assert info.value.suggested_filename == "reading.json"


def test_operator_uploads_downloads_and_deletes_a_file(console, application, shot, tmp_path):
    owner = make_user(application, "keeper")
    payload = bytes(range(256)) * 40 + b"end"
    source = tmp_path / "photo.bin"
    source.write_bytes(payload)

    page = console
    page.goto(f"/admin/accounts/application/{application.pk}/change/")
    page.click("#nav-sidebar >> text=Storage")
    page.set_input_files("#blob-upload-form input[name=file]", str(source))
    page.fill("#blob-upload-form input[name=owner]", str(owner.pk))
    page.click("#blob-upload-form >> text=Upload")
    page.wait_for_selector(".messagelist .success")
    shot(page, "storage")

    blob = Blob.objects.get(application=application)
    assert (blob.name, blob.size, blob.owner, blob.public) == (
        "photo.bin",
        len(payload),
        owner,
        False,
    )
    assert blob.is_complete
    row = page.locator(f"tr[data-blob-id='{blob.pk}']").inner_text()
    assert "photo.bin" in row and "keeper" in row and "complete" in row

    with page.expect_download() as info:
        page.click(f"tr[data-blob-id='{blob.pk}'] >> text=Download")
    assert open(info.value.path(), "rb").read() == payload

    # The owner gets the same bytes through the Storage API.
    api = Api(token_for(application, owner))
    status, body = api.get(f"/blobs/{blob.pk}")
    assert status == 200 and body["blob"]["size"] == len(payload)
    response = api.client.get(f"/blobs/{blob.uid}/download", HTTP_CB_TOKEN=api.token, follow=True)
    assert b"".join(response.streaming_content) == payload

    page.click(f"tr[data-blob-id='{blob.pk}'] >> text=Delete")
    page.click("text=Yes, delete")
    page.wait_for_selector(".messagelist .success")
    assert not Blob.objects.filter(pk=blob.pk).exists()
    assert not storage().exists(blob.key)
    status, _ = api.get(f"/blobs/{blob.pk}")
    assert status == 404


def test_operator_imports_users_with_a_dry_run_first(console, application, tmp_path):
    source = tmp_path / "users.csv"
    source.write_text("login,password,tags\nann,password-1,crew\nb c,password-2,\n")
    page = console
    page.goto(f"/admin/accounts/apiuser/?application__id__exact={application.pk}")
    page.click("#users-import-link")
    page.set_input_files("#users-import-form input[name=file]", str(source))
    page.check("#users-import-form input[name=dry_run]")
    page.click("#users-import-form button[type=submit]")
    page.wait_for_selector("#import-summary")
    assert "would be created" in page.locator("#import-summary").inner_text()
    assert not application.users.exists()
    page.uncheck("#users-import-form input[name=dry_run]")
    page.click("#users-import-form button[type=submit]")
    page.wait_for_selector("#import-summary >> text=1 user created")
    assert list(application.users.values_list("login", flat=True)) == ["ann"]
    assert "login" in page.locator("#import-errors").inner_text()
