"""The Storage API on the filesystem backend: create, upload, complete, info, list,
download, object, edit, delete, and every refusal on the way."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from blobs.models import Blob
from tests.blobs.conftest import decode_policy, parse_params, stored_files
from tests.conftest import Api, make_user, token_for

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


def fetch(client, location: str):
    """Follow a download redirect with a plain client (no session), answer the response."""
    parts = urlsplit(location)
    return client.get(parts.path, parse_qs(parts.query))


def body_bytes(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def uploaded_blob(blob_of, upload, owner_api, content=PNG, **kw):
    blob, row = blob_of(**kw)
    response = upload(blob["blob_object_access"]["params"], content)
    assert response.status_code == 201, response.content
    status, _ = owner_api.put(f"/blobs/{blob['id']}/complete", {"size": len(content)})
    assert status == 200
    row.refresh_from_db()
    return row


# --- create ---------------------------------------------------------------------------------


def test_create_answers_blob_and_signed_upload_form(owner_api, owner):
    status, body = owner_api.post(
        "/blobs", {"blob": {"name": "cat.jpeg", "content_type": "image/jpeg"}}
    )
    assert status == 201
    blob = body["blob"]
    assert re.fullmatch(r"[0-9a-f]{34}", blob["uid"])
    assert blob["name"] == "cat.jpeg" and blob["content_type"] == "image/jpeg"
    assert blob["public"] is False and blob["blob_status"] is None and blob["size"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", blob["created_at"])
    access = blob["blob_object_access"]
    assert access["object_access_type"] == "Write" and access["blob_id"] == blob["id"]
    url, fields = parse_params(access["params"])
    assert url == "http://testserver/blobs/upload"
    assert fields["key"] == blob["uid"]
    assert fields["Content-Type"] == "image/jpeg"
    assert fields["success_action_status"] == "201"
    assert "acl" not in fields
    assert {"policy", "signature", "Expires"} <= set(fields)
    policy = decode_policy(fields["policy"])
    assert policy["expiration"] == access["expires"]
    assert ["content-length-range", 0, 100 * 1024 * 1024] in policy["conditions"]
    assert {"key": blob["uid"]} in policy["conditions"]
    assert Blob.objects.get(pk=blob["id"]).owner == owner


def test_create_public_blob_signs_public_read(blob_of):
    blob, _ = blob_of(public=True)
    assert blob["public"] is True
    _, fields = parse_params(blob["blob_object_access"]["params"])
    assert fields["acl"] == "public-read"
    assert {"acl": "public-read"} in decode_policy(fields["policy"])["conditions"]


def test_create_with_form_body_and_json_suffix(owner_api):
    status, body = owner_api.post(
        "/blobs.json",
        {"blob[name]": "a b.txt", "blob[content_type]": "text/plain", "blob[public]": "true"},
        format="multipart",
    )
    assert status == 201 and body["blob"]["public"] is True
    # spaces are %20 in params: the SDK decodes with decodeURIComponent, which keeps "+"
    assert "+" not in body["blob"]["blob_object_access"]["params"]


@pytest.mark.parametrize(
    "blob, field",
    [
        ({"name": "", "content_type": "image/png"}, "name"),
        ({"name": "x" * 101, "content_type": "image/png"}, "name"),
        ({"content_type": "image/png"}, "name"),
        ({"name": "a.png", "content_type": "png"}, "content_type"),
        ({"name": "a.png", "content_type": "image/png/x"}, "content_type"),
        ({"name": "a.png", "content_type": "image/" + "p" * 45}, "content_type"),
        ({"name": "a.png"}, "content_type"),
        ({"name": "a.png", "content_type": "image/png", "public": "maybe"}, "public"),
    ],
)
def test_create_refuses_bad_input(owner_api, blob, field):
    status, body = owner_api.post("/blobs", {"blob": blob})
    assert status == 422
    assert field in body["errors"]
    assert not Blob.objects.exists()


def test_create_accepts_edge_names_and_parameters(owner_api):
    for name, content_type in [
        ("x", "text/plain; charset=utf-8"),
        ("y" * 100, "application/vnd.api+json"),
    ]:
        status, body = owner_api.post(
            "/blobs", {"blob": {"name": name, "content_type": content_type}}
        )
        assert status == 201, body


def test_create_needs_a_user_session(app_api, anonymous_api):
    data = {"blob": {"name": "a", "content_type": "text/plain"}}
    assert app_api.post("/blobs", data)[0] == 403
    status, body = anonymous_api.post("/blobs", data)
    assert status == 401
    assert body == {"errors": {"base": ["Required session does not exist"]}}


# --- upload, complete, download --------------------------------------------------------------


def test_full_flow_without_filename(blob_of, upload, owner_api, client, media):
    blob, row = blob_of(content_type="image/png")
    response = upload(blob["blob_object_access"]["params"], PNG)  # no filename, as the SDK sends
    assert response.status_code == 201
    assert response["Content-Type"] == "application/xml"
    xml = response.content.decode()
    assert "<PostResponse>" in xml and f"<Key>{row.uid}</Key>" in xml and "<ETag>" in xml
    assert stored_files(media) == [row.uid]
    assert (media / row.uid).read_bytes() == PNG

    status, _ = owner_api.put(f"/blobs/{row.pk}/complete.json", {"size": len(PNG)})
    assert status == 200
    status, body = owner_api.get(f"/blobs/{row.pk}")
    assert status == 200
    assert body["blob"]["blob_status"] == "complete" and body["blob"]["size"] == len(PNG)
    assert body["blob"]["set_completed_at"] is not None

    for path in (f"/blobs/{row.uid}", f"/blobs/{row.uid}/download", f"/blobs/{row.uid}.json"):
        redirect = client.get(path, HTTP_CB_TOKEN=owner_api.token)
        assert redirect.status_code == 302, path
        assert redirect["Cache-Control"] == "no-store"
        got = fetch(client, redirect["Location"])
        assert got.status_code == 200
        assert got["Content-Type"] == "image/png"
        assert "sandbox" in got["Content-Security-Policy"]
        assert body_bytes(got) == PNG


def test_upload_with_filename_and_complete_with_nested_size(blob_of, upload, owner_api, media):
    blob, row = blob_of()
    assert (
        upload(blob["blob_object_access"]["params"], b"abc", filename="cat.jpeg").status_code == 201
    )
    status, _ = owner_api.put(f"/blobs/{row.pk}/complete", {"blob": {"size": "3"}})
    assert status == 200
    row.refresh_from_db()
    assert row.is_complete and row.size == 3


def test_private_download_with_token_query_parameter(blob_of, upload, owner_api, client):
    row = uploaded_blob(blob_of, upload, owner_api)
    redirect = client.get(f"/blobs/{row.uid}", {"token": owner_api.token})
    assert redirect.status_code == 302
    assert body_bytes(fetch(client, redirect["Location"])) == PNG


def test_private_download_refuses_no_token_and_other_users(
    blob_of, upload, owner_api, client, application, stranger, other_application
):
    row = uploaded_blob(blob_of, upload, owner_api)
    response = client.get(f"/blobs/{row.uid}")
    assert response.status_code == 401
    assert response.json() == {"errors": {"base": ["Required session does not exist"]}}
    assert client.get(f"/blobs/{row.uid}", {"token": "not-a-token"}).status_code == 401
    other = token_for(application, stranger)
    response = client.get(f"/blobs/{row.uid}/download", HTTP_CB_TOKEN=other)
    assert response.status_code == 403 and "errors" in response.json()
    foreign = token_for(other_application, make_user(other_application, "owner"))
    assert client.get(f"/blobs/{row.uid}", {"token": foreign}).status_code == 404
    assert client.get(f"/blobs/{row.uid}", {"token": token_for(application)}).status_code == 403


def test_public_download_needs_no_session(blob_of, upload, owner_api, client):
    row = uploaded_blob(blob_of, upload, owner_api, public=True)
    redirect = client.get(f"/blobs/{row.uid}")
    assert redirect.status_code == 302 and redirect["Cache-Control"] == "no-store"
    assert body_bytes(fetch(client, redirect["Location"])) == PNG
    # a stale token in the request does not stand in the way of a public file
    assert client.get(f"/blobs/{row.uid}", {"token": "expired"}).status_code == 302


def test_download_of_incomplete_blob_is_refused(blob_of, upload, owner_api, client):
    blob, row = blob_of()
    upload(blob["blob_object_access"]["params"], b"data")
    response = client.get(f"/blobs/{row.uid}", HTTP_CB_TOKEN=owner_api.token)
    assert response.status_code == 404 and "errors" in response.json()
    status, body = owner_api.get(f"/blobs/{row.uid}/object", {"download_url": 1})
    assert status == 404 and "errors" in body


def test_unknown_uid_is_not_found(client, db):
    response = client.get("/blobs/" + "ab" * 17)
    assert response.status_code == 404 and "errors" in response.json()


def test_signed_download_url_cannot_be_altered(blob_of, upload, owner_api, client):
    row = uploaded_blob(blob_of, upload, owner_api)
    other = uploaded_blob(blob_of, upload, owner_api, content=b"other")
    location = client.get(f"/blobs/{row.uid}", HTTP_CB_TOKEN=owner_api.token)["Location"]
    parts = urlsplit(location)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert client.get(parts.path.replace(row.uid, other.uid), query).status_code == 403
    assert (
        client.get(parts.path, {**query, "expires": int(query["expires"]) + 60}).status_code == 403
    )
    assert client.get(parts.path, {**query, "signature": "0" * 64}).status_code == 403
    assert (
        client.get(
            parts.path, {**query, "expires": 1000, "signature": query["signature"]}
        ).status_code
        == 403
    )


def test_expired_download_url_is_refused(blob_of, upload, owner_api, client):
    from blobs.backends import sign_download

    row = uploaded_blob(blob_of, upload, owner_api)
    response = client.get(
        f"/blobs/{row.uid}/content", {"expires": 1000, "signature": sign_download(row.uid, 1000)}
    )
    assert response.status_code == 403


def test_object_with_download_url(blob_of, upload, owner_api, client):
    row = uploaded_blob(blob_of, upload, owner_api)
    status, body = owner_api.get(f"/blobs/{row.uid}/object.json", {"download_url": 1})
    assert status == 200
    access = body["blob"]["blob_object_access"]
    assert access["download_url"] == access["dowload_url"]
    assert body_bytes(fetch(client, access["download_url"])) == PNG
    status, body = owner_api.get(f"/blobs/{row.uid}/object")
    assert status == 200 and "blob_object_access" not in body["blob"]


# --- complete ------------------------------------------------------------------------------


def test_complete_before_upload_is_refused(blob_of, owner_api):
    _, row = blob_of()
    status, body = owner_api.put(f"/blobs/{row.pk}/complete", {"size": 10})
    assert status == 422 and "base" in body["errors"]
    row.refresh_from_db()
    assert row.blob_status is None


@pytest.mark.parametrize("size", [len(PNG) - 1, len(PNG) + 1, "ten", -1, None])
def test_complete_with_wrong_size_is_refused(blob_of, upload, owner_api, size):
    blob, row = blob_of()
    upload(blob["blob_object_access"]["params"], PNG)
    status, body = owner_api.put(f"/blobs/{row.pk}/complete", {"size": size})
    assert status == 422 and "size" in body["errors"]
    row.refresh_from_db()
    assert row.blob_status is None and row.size is None


def test_only_the_owner_completes(blob_of, upload, api_for, stranger):
    blob, row = blob_of()
    upload(blob["blob_object_access"]["params"], b"x")
    status, _ = api_for(stranger).put(f"/blobs/{row.pk}/complete", {"size": 1})
    assert status == 403


# --- upload refusals: the signed policy is enforced, nothing is left in storage -------------


def _xml_code(response) -> str:
    match = re.search(r"<Code>(\w+)</Code>", response.content.decode())
    return match.group(1) if match else ""


@pytest.mark.parametrize(
    "change, status, code",
    [
        ({"signature": "0" * 64}, 403, "SignatureDoesNotMatch"),
        ({"Content-Type": "text/html"}, 403, "AccessDenied"),
        ({"success_action_status": "200"}, 403, "AccessDenied"),
        ({"acl": "public-read"}, 403, "AccessDenied"),
        ({"policy": ""}, 403, "AccessDenied"),
    ],
)
def test_tampered_form_is_refused(blob_of, upload, media, change, status, code):
    blob, _ = blob_of()
    response = upload(blob["blob_object_access"]["params"], PNG, fields=change)
    assert response.status_code == status
    assert response["Content-Type"] == "application/xml"
    assert _xml_code(response) == code
    assert stored_files(media) == []


def test_tampered_policy_is_refused(blob_of, upload, media):
    import base64
    import json

    blob, _ = blob_of()
    _, fields = parse_params(blob["blob_object_access"]["params"])
    policy = decode_policy(fields["policy"])
    policy["conditions"] = [c for c in policy["conditions"] if not isinstance(c, list)]
    policy["conditions"].append(["content-length-range", 0, 10 * 1024**3])
    forged = base64.b64encode(json.dumps(policy).encode()).decode()
    response = upload(blob["blob_object_access"]["params"], PNG, fields={"policy": forged})
    assert response.status_code == 403 and _xml_code(response) == "SignatureDoesNotMatch"
    assert stored_files(media) == []


def test_another_blobs_key_is_refused(blob_of, upload, media):
    first, _ = blob_of()
    second, _ = blob_of()
    response = upload(first["blob_object_access"]["params"], PNG, fields={"key": second["uid"]})
    assert response.status_code == 403 and _xml_code(response) == "AccessDenied"
    assert stored_files(media) == []


def test_expired_policy_is_refused(blob_of, upload, media, rf):
    from datetime import timedelta

    from django.utils import timezone

    from blobs.backends import backend
    from blobs.serializers import upload_access_json

    _, row = blob_of()
    row.upload_expires_at = timezone.now() - timedelta(seconds=1)
    row.save()
    url, fields = backend().upload_access(row, rf.get("/"))
    response = upload(upload_access_json(row, url, fields)["params"], PNG)
    assert response.status_code == 403 and "expired" in response.content.decode()
    assert stored_files(media) == []


def test_upload_without_file_or_signature(blob_of, upload, client, owner_api, media):
    blob, _ = blob_of()
    response = upload(blob["blob_object_access"]["params"], PNG, drop=["signature"])
    assert response.status_code == 403 and _xml_code(response) == "AccessDenied"
    response = client.post("/blobs/upload", {"key": blob["uid"]})
    assert response.status_code == 400 and _xml_code(response) == "InvalidArgument"
    response = client.post("/blobs/upload", b"plain", content_type="text/plain")
    assert response.status_code == 400 and _xml_code(response) == "MalformedPOSTRequest"
    # Not the upload endpoint: /blobs/{ident}, which knows no blob "upload"
    assert client.get("/blobs/upload").status_code == 401
    assert owner_api.get("/blobs/upload")[0] == 404
    assert stored_files(media) == []


def test_completed_blob_cannot_be_overwritten(blob_of, upload, owner_api, media):
    blob, row = blob_of()
    upload(blob["blob_object_access"]["params"], PNG)
    owner_api.put(f"/blobs/{row.pk}/complete", {"size": len(PNG)})
    response = upload(blob["blob_object_access"]["params"], b"evil")
    assert response.status_code == 403
    assert (media / row.uid).read_bytes() == PNG


def test_upload_over_100_mb_stops_reading_and_keeps_nothing(blob_of, upload, media):
    limit = 100 * 1024 * 1024
    blob, _ = blob_of()
    response = upload(blob["blob_object_access"]["params"], size=limit + 1)
    assert response.status_code == 400
    assert _xml_code(response) == "EntityTooLarge"
    assert stored_files(media) == []
    assert response.stream.read_bytes <= limit + 2 * 256 * 1024


def test_upload_over_100_mb_is_refused_and_the_rest_dropped(blob_of, upload, media):
    limit = 100 * 1024 * 1024
    blob, _ = blob_of()
    # within the Content-Length allowance for form fields, so only the byte count stops it;
    # the rest of the body is then read and dropped in chunks, so the client gets the answer
    response = upload(blob["blob_object_access"]["params"], size=limit + 900 * 1024)
    assert response.status_code == 400 and _xml_code(response) == "EntityTooLarge"
    assert response.stream.read_bytes == response.stream.length
    assert stored_files(media) == []


def test_upload_of_exactly_100_mb_is_accepted(blob_of, upload, owner_api, media):
    limit = 100 * 1024 * 1024
    blob, row = blob_of()
    assert upload(blob["blob_object_access"]["params"], size=limit).status_code == 201
    assert (media / row.uid).stat().st_size == limit
    assert owner_api.put(f"/blobs/{row.pk}/complete", {"size": limit})[0] == 200


def test_oversized_content_length_is_refused_before_reading(blob_of, client, media):
    from tests.blobs.conftest import MultipartStream, post_form

    blob, _ = blob_of()
    url, fields = parse_params(blob["blob_object_access"]["params"])
    stream = MultipartStream(fields, size=200 * 1024 * 1024)
    response = post_form(client, url, stream)
    assert response.status_code == 400 and _xml_code(response) == "EntityTooLarge"
    assert stream.read_bytes == 0
    assert stored_files(media) == []


# --- info, list, edit, delete ------------------------------------------------------------------


def test_info_is_for_owner_or_public(blob_of, api_for, stranger, app_api):
    _, private = blob_of()
    _, public = blob_of(public=True)
    other = api_for(stranger)
    assert other.get(f"/blobs/{private.pk}")[0] == 403
    status, body = other.get(f"/blobs/{public.pk}.json")
    assert status == 200 and body["blob"]["uid"] == public.uid
    assert app_api.get(f"/blobs/{public.pk}")[0] == 200
    assert other.get("/blobs/999999")[0] == 404
    assert other.get("/blobs/not-an-id")[0] == 404
    assert other.get(f"/blobs/{'١' * len(str(public.pk))}")[0] == 404  # digits, but not ASCII


def test_blobs_of_other_applications_are_not_found(blob_of, other_application):
    _, row = blob_of(public=True)
    foreign = Api(token_for(other_application, make_user(other_application, "x")))
    assert foreign.get(f"/blobs/{row.pk}")[0] == 404
    assert foreign.delete(f"/blobs/{row.pk}")[0] == 404


def test_list_pages_through_own_blobs(
    blob_of, owner_api, api_for, stranger, django_assert_num_queries
):
    for i in range(5):
        blob_of(name=f"f{i}")
    blob_of(name="theirs", api=api_for(stranger))
    with django_assert_num_queries(3):  # session, count, page
        status, body = owner_api.get("/blobs", {"page": 2, "per_page": 2})
    assert status == 200
    assert body["current_page"] == 2 and body["per_page"] == 2 and body["total_entries"] == 5
    assert [item["blob"]["name"] for item in body["items"]] == ["f2", "f3"]
    status, body = owner_api.get("/blobs.json")
    assert body["per_page"] == 10 and len(body["items"]) == 5
    for bad in ({"per_page": 101}, {"per_page": 0}, {"page": 0}, {"page": "x"}):
        status, body = owner_api.get("/blobs", bad)
        assert status == 422, bad


def test_edit_renames_and_retypes(blob_of, owner_api, api_for, stranger):
    _, row = blob_of()
    status, body = owner_api.put(
        f"/blobs/{row.pk}", {"blob": {"name": "dog.png", "content_type": "image/png"}}
    )
    assert status == 200
    assert body["blob"]["name"] == "dog.png" and body["blob"]["content_type"] == "image/png"
    assert "blob_object_access" not in body["blob"]
    assert owner_api.put(f"/blobs/{row.pk}", {"blob": {"name": ""}})[0] == 422
    assert owner_api.put(f"/blobs/{row.pk}", {"blob": {"content_type": "nope"}})[0] == 422
    assert api_for(stranger).put(f"/blobs/{row.pk}", {"blob": {"name": "mine"}})[0] == 403
    row.refresh_from_db()
    assert row.name == "dog.png"


def test_edit_new_opens_a_fresh_upload(
    blob_of, upload, owner_api, media, client, django_capture_on_commit_callbacks
):
    row = uploaded_blob(blob_of, upload, owner_api)
    with django_capture_on_commit_callbacks(execute=True):
        status, body = owner_api.put(f"/blobs/{row.pk}", {"blob": {"new": 1}})
    assert status == 200
    assert body["blob"]["blob_status"] is None and body["blob"]["size"] is None
    assert stored_files(media) == []  # the old object went with the commit
    assert upload(body["blob"]["blob_object_access"]["params"], b"second").status_code == 201
    assert owner_api.put(f"/blobs/{row.pk}/complete", {"size": 6})[0] == 200
    redirect = client.get(f"/blobs/{row.uid}", HTTP_CB_TOKEN=owner_api.token)
    assert body_bytes(fetch(client, redirect["Location"])) == b"second"


def test_delete_removes_row_and_object(
    blob_of, upload, owner_api, api_for, stranger, media, django_capture_on_commit_callbacks
):
    row = uploaded_blob(blob_of, upload, owner_api)
    assert api_for(stranger).delete(f"/blobs/{row.pk}")[0] == 403
    assert stored_files(media) == [row.uid]
    with django_capture_on_commit_callbacks(execute=True):
        status, body = owner_api.delete(f"/blobs/{row.pk}.json")
    assert status == 200 and body is None
    assert not Blob.objects.filter(pk=row.pk).exists()
    assert stored_files(media) == []
    assert owner_api.get(f"/blobs/{row.pk}")[0] == 404


def test_put_and_delete_also_take_the_uid(blob_of, owner_api, django_capture_on_commit_callbacks):
    _, row = blob_of()
    status, body = owner_api.put(f"/blobs/{row.uid}", {"blob": {"name": "by uid"}})
    assert status == 200 and body["blob"]["name"] == "by uid"
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_api.delete(f"/blobs/{row.uid}")[0] == 200
    assert not Blob.objects.exists()
