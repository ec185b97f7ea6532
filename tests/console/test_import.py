"""Imports in the console: dry run, owner, the refused rows as a file, streamed progress,
and users."""

import base64
import csv
import io
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import ApiUser
from classes.services import class_create
from records.models import Record
from tests.conftest import make_user

from .conftest import base


@pytest.fixture
def reading(application):
    return class_create(
        application=application,
        name="reading",
        fields=[{"name": "amount", "type": "integer"}, {"name": "label", "type": "string"}],
    )


def csv_upload(rows: list[str], name="r.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, ("\n".join(rows) + "\n").encode(), content_type="text/csv")


def refused_rows(page: str) -> list[dict]:
    url = re.search(r'id="rejected-download" href="data:text/csv;base64,([^"]+)"', page)
    return list(csv.DictReader(io.StringIO(base64.b64decode(url.group(1)).decode())))


def test_a_dry_run_writes_nothing_and_offers_the_refused_rows(staff, application, reading):
    upload = csv_upload(["amount,label", "1,a", "lots,b", "3,c"])
    url = f"{base(application)}/custom/reading/import/"
    page = staff.post(url, {"file": upload, "dry_run": "1"}).content.decode()
    assert "Dry run, nothing was written" in page and "would be imported" in page
    assert not Record.objects.exists()
    assert refused_rows(page) == [
        {"line": "3", "reason": "amount: must be an integer", "row": "lots,b"}
    ]


def test_imported_records_get_the_owner(staff, application, reading):
    owner = make_user(application, "dana")
    upload = csv_upload(["amount,label", "1,a", "2,b"])
    staff.post(f"{base(application)}/custom/reading/import/", {"file": upload, "owner": owner.pk})
    assert set(Record.objects.values_list("user_id", flat=True)) == {owner.pk}


@pytest.mark.django_db(transaction=True)
def test_the_streamed_import_reports_progress_then_the_result(staff, application, reading):
    rows = ["amount,label", *(f"{n},row {n}" for n in range(3000))]
    response = staff.post(
        f"{base(application)}/custom/reading/import/",
        {"file": csv_upload(rows)},
        HTTP_X_CONSOLE_STREAM="1",
    )
    lines = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    progress = [line["progress"] for line in lines if "progress" in line]
    assert progress and progress[-1]["rows"] <= 3000
    assert progress[0]["total"] == len(("\n".join(rows) + "\n").encode())
    assert 'id="imported-count">3000<' in lines[-1]["done"]
    assert Record.objects.filter(object_class=reading).count() == 3000


def test_users_import_in_the_console(staff, application):
    url = f"{base(application)}/users/import/"
    assert 'id="users-import-form"' in staff.get(url).content.decode()
    upload = csv_upload(
        ["login,password,tags", "ann,password-1,crew", "b c,password-2,", "carl,password-3,"],
        name="u.csv",
    )
    page = staff.post(url, {"file": upload, "dry_run": "1"}).content.decode()
    assert "2</strong> users would be created" in page.replace("\n", "").replace("    ", "")
    assert not ApiUser.objects.exists()
    upload.seek(0)
    page = staff.post(url, {"file": upload}).content.decode()
    assert sorted(ApiUser.objects.values_list("login", flat=True)) == ["ann", "carl"]
    assert ApiUser.objects.get(login="ann").tags == ["crew"]
    (refused,) = refused_rows(page)
    assert refused["line"] == "3" and refused["row"] == "b c,password-2,"
    assert "login" in refused["reason"]
    listing = staff.get("/admin/accounts/apiuser/", {"application__id__exact": application.pk})
    assert f'href="{url}"' in listing.content.decode()
