"""The smaller findings: each answers JSON with the status the contract gives."""

import pytest
from django.test import Client

from records.models import Record


@pytest.mark.django_db
def test_posting_to_a_download_link_answers_json_not_the_csrf_page(owner):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/blobs/" + "a" * 34 + "/content", {"x": "1"})
    assert response.status_code in (403, 405)
    assert response["Content-Type"] == "application/json"
    assert "errors" in response.json()


@pytest.mark.django_db
def test_a_refused_csrf_check_on_an_api_path_is_json(settings):
    from config.api.errors import csrf_failure

    response = csrf_failure(Client().get("/").wsgi_request, "no token")
    assert response.status_code == 403 and response["Content-Type"] == "application/json"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [b"garbage", b'--xyz\r\nContent-Disposition: form-data; name="age"\r\n\r\n41'],
)
def test_a_garbage_multipart_body_creates_nothing(profile, owner_api, body):
    response = owner_api.client.post(
        "/data/profile",
        body,
        content_type="multipart/form-data; boundary=xyz",
        HTTP_CB_TOKEN=owner_api.token,
    )
    assert response.status_code == 400, response.content
    assert Record.objects.count() == 0


@pytest.mark.django_db
def test_a_whole_multipart_body_still_creates(profile, owner_api):
    status, body = owner_api.post("/data/profile", {"age": "41"}, format="multipart")
    assert status == 201 and body["age"] == 41


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    ["/data/pro%00file", "/data/profile/%00", "/data/profile/abc%00def/file", "/blobs/1%00"],
)
def test_a_nul_byte_in_a_path_is_404(profile, owner_api, path):
    status, body = owner_api.get(path)
    assert status == 404, body


@pytest.mark.django_db
def test_blobs_upload_is_only_the_upload_endpoint_for_post(owner_api):
    status, body = owner_api.get("/blobs/upload")
    assert status == 404 and body["errors"]
    status, body = owner_api.delete("/blobs/upload")
    assert status == 404 and body["errors"]


@pytest.mark.django_db
@pytest.mark.parametrize("calc", ["avg", "sum", "min", "max"])
def test_aggregates_over_huge_floats_answer(create, owner_api, calc):
    for _ in range(3):
        create(score=1.7e308, job="x")
    status, body = owner_api.get("/data/profile", {"score[calc]": calc, "group_by": "job"})
    assert status == 200, body
    assert body["items"][0]["job"] == "x"
    expected = {"avg": 1.7e308, "min": 1.7e308, "max": 1.7e308, "sum": 51 * 10**307}
    assert body["items"][0]["score"][calc] == expected[calc]
