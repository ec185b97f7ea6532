"""Dates at the edges of the calendar and numbers past what a float holds."""

import importlib

import pytest
from django.db import connection

from records.models import Record

pad_migration = importlib.import_module("records.migrations.0003_pad_date_years")

OUTSIDE = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-05:00"]


@pytest.mark.django_db
@pytest.mark.parametrize("value", OUTSIDE)
def test_date_moved_outside_years_1_to_9999_by_its_offset_is_422(profile, owner_api, value):
    status, body = owner_api.post("/data/profile", {"born": value})
    assert status == 422, body
    assert "born" in body["errors"]
    assert Record.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("value", OUTSIDE)
@pytest.mark.parametrize("op", ["gt", "lt", "ne", "in"])
def test_filter_by_such_a_date_is_422(profile, owner_api, value, op):
    status, body = owner_api.get("/data/profile", {f"born[{op}]": value})
    assert status == 422, body


@pytest.mark.django_db
def test_date_offset_inside_the_range_is_converted_to_utc(profile, owner_api):
    status, body = owner_api.post("/data/profile", {"born": "0001-01-01T23:00:00+14:00"})
    assert status == 201, body
    assert body["born"] == "0001-01-01T09:00:00Z"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("999-01-01T00:00:00Z", "0999-01-01T00:00:00Z"),
        ("0999-01-01", "0999-01-01T00:00:00Z"),
        ("0045-06-07T08:09:10+00:00", "0045-06-07T08:09:10Z"),
        (-62135596800, "0001-01-01T00:00:00Z"),
    ],
)
def test_early_dates_are_stored_with_four_year_digits(profile, owner_api, given, stored):
    status, body = owner_api.post("/data/profile", {"born": given})
    assert status == 201, body
    assert body["born"] == stored
    assert Record.objects.get(pk=body["_id"]).data["born"] == stored


@pytest.mark.django_db
def test_early_dates_sort_and_compare_in_time_order(profile, owner_api):
    for born in ["1999-01-01", "999-01-01", "10-01-01", "2000-01-01"]:
        assert owner_api.post("/data/profile", {"born": born})[0] == 201
    status, body = owner_api.get("/data/profile", {"sort_asc": "born"})
    assert [r["born"][:4] for r in body["items"]] == ["0010", "0999", "1999", "2000"]
    status, body = owner_api.get("/data/profile", {"born[lt]": "1000-01-01"})
    assert sorted(r["born"][:4] for r in body["items"]) == ["0010", "0999"]


@pytest.mark.django_db
def test_migration_pads_dates_stored_before(create, profile):
    record = create(born="2019-09-21T21:25:00Z", full_name="12-x")
    old = create(born="2019-09-21T21:25:00Z")
    Record.objects.filter(pk=old.pk).update(
        data={"born": "999-01-01T00:00:00Z", "full_name": "5-not-a-date"}
    )
    with connection.cursor() as cursor:
        cursor.execute(pad_migration.PAD_DATE_YEARS)
    assert Record.objects.get(pk=old.pk).data == {
        "born": "0999-01-01T00:00:00Z",
        "full_name": "5-not-a-date",
    }
    assert Record.objects.get(pk=record.pk).data["born"] == "2019-09-21T21:25:00Z"
    assert Record.objects.get(pk=record.pk).data["full_name"] == "12-x"


@pytest.mark.django_db
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("timestamp", ["1e400", "-1e400", str(2**70), "1e300", '"1e400"', '"²"'])
def test_session_with_absurd_timestamp_is_not_a_500(client, application, timestamp, signed):
    body = f'{{"application_id": {application.pk}, "auth_key": "{application.auth_key}", '
    body += f'"timestamp": {timestamp}'
    body += ', "nonce": "1", "signature": "' + "0" * 40 + '"}' if signed else "}"
    response = client.post("/session", body, content_type="application/json")
    # signed: the timestamp cannot be checked, so the credentials are refused; unsigned: the
    # timestamp is informative only and an unreadable one is left out.
    assert response.status_code == (401 if signed else 201), response.content
