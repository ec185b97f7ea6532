"""The same flow on the S3 backend, against moto's S3 server on 127.0.0.1.

The upload is a plain multipart POST to the bucket, as a browser does with a presigned POST.
moto does not enforce POST policies, so the policy we generate is decoded and checked here,
and the server's own checks on complete (size, the 100 MB cap) are what stop a bad upload.
"""

import re
from datetime import UTC, datetime, timedelta

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from blobs.files import file_key
from tests.blobs.conftest import MultipartStream, decode_policy, parse_params, post_form

BUCKET = "blobs-test"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
DATA = b"\xff\xd8\xff" + bytes(range(256)) * 20


@pytest.fixture(scope="session")
def moto_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(moto_endpoint):
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1", **CREDENTIALS)
    client.create_bucket(Bucket=BUCKET)
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


@pytest.fixture
def s3(settings, bucket, moto_endpoint):
    """STORAGES["default"] on the bucket (changing the setting resets Django's cached
    storage, so the next lookup builds a fresh S3Storage)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "region_name": "us-east-1",
                "endpoint_url": moto_endpoint,
                "access_key": "testing",
                "secret_key": "testing",
                "addressing_style": "path",
                "signature_version": "s3v4",
                "file_overwrite": True,
                "default_acl": None,
            },
        },
    }
    return bucket


def keys(client) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def post_to_bucket(params: str, content: bytes, filename="cat.jpg", content_type="image/jpeg"):
    url, fields = parse_params(params)
    return requests.post(
        url, data=fields, files={"file": (filename, content, content_type)}, timeout=30
    )


def test_presigned_post_policy(s3, owner_api, moto_endpoint):
    status, body = owner_api.post(
        "/blobs", {"blob": {"name": "cat.jpg", "content_type": "image/jpeg"}}
    )
    assert status == 201
    blob = body["blob"]
    url, fields = parse_params(blob["blob_object_access"]["params"])
    assert url == f"{moto_endpoint}/{BUCKET}"
    assert fields["key"] == blob["uid"]
    assert fields["Content-Type"] == "image/jpeg"
    assert fields["success_action_status"] == "201"
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert {"x-amz-credential", "x-amz-date", "x-amz-signature", "policy"} <= set(fields)
    assert "acl" not in fields
    policy = decode_policy(fields["policy"])
    conditions = policy["conditions"]
    assert {"bucket": BUCKET} in conditions
    assert {"key": blob["uid"]} in conditions
    assert {"Content-Type": "image/jpeg"} in conditions
    assert {"success_action_status": "201"} in conditions
    assert ["content-length-range", 0, 100 * 1024 * 1024] in conditions
    expiration = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert timedelta(minutes=59) < expiration - datetime.now(UTC) <= timedelta(hours=1)


def test_public_blob_policy_has_public_read(s3, owner_api):
    _, body = owner_api.post(
        "/blobs", {"blob": {"name": "a.png", "content_type": "image/png", "public": True}}
    )
    _, fields = parse_params(body["blob"]["blob_object_access"]["params"])
    assert fields["acl"] == "public-read"
    assert {"acl": "public-read"} in decode_policy(fields["policy"])["conditions"]


def test_full_flow_on_s3(s3, owner_api, client):
    _, body = owner_api.post("/blobs", {"blob": {"name": "cat.jpg", "content_type": "image/jpeg"}})
    blob = body["blob"]
    response = post_to_bucket(blob["blob_object_access"]["params"], DATA)
    assert response.status_code == 201
    assert keys(s3) == [blob["uid"]]

    assert owner_api.put(f"/blobs/{blob['id']}/complete", {"size": len(DATA)})[0] == 200
    status, info = owner_api.get(f"/blobs/{blob['id']}")
    assert info["blob"]["blob_status"] == "complete" and info["blob"]["size"] == len(DATA)

    redirect = client.get(f"/blobs/{blob['uid']}", {"token": owner_api.token})
    assert redirect.status_code == 302 and redirect["Cache-Control"] == "no-store"
    location = redirect["Location"]
    assert "X-Amz-Signature=" in location and f"/{BUCKET}/{blob['uid']}" in location
    got = requests.get(location, timeout=30)
    assert got.status_code == 200 and got.content == DATA
    assert got.headers["Content-Type"] == "image/jpeg"

    status, obj = owner_api.get(f"/blobs/{blob['uid']}/object", {"download_url": 1})
    assert (
        requests.get(obj["blob"]["blob_object_access"]["dowload_url"], timeout=30).content == DATA
    )
    assert client.get(f"/blobs/{blob['uid']}").status_code == 401


def test_complete_checks_the_object(s3, owner_api):
    _, body = owner_api.post("/blobs", {"blob": {"name": "a", "content_type": "text/plain"}})
    blob = body["blob"]
    status, errors = owner_api.put(f"/blobs/{blob['id']}/complete", {"size": 5})
    assert status == 422 and "base" in errors["errors"]
    post_to_bucket(blob["blob_object_access"]["params"], b"hello", content_type="text/plain")
    status, errors = owner_api.put(f"/blobs/{blob['id']}/complete", {"size": 6})
    assert status == 422 and "size" in errors["errors"]
    assert owner_api.put(f"/blobs/{blob['id']}/complete", {"blob": {"size": 5}})[0] == 200


def test_object_over_the_cap_is_refused_and_removed(s3, owner_api, monkeypatch):
    # moto lets any size in; the server's own check after head_object is what stops it
    monkeypatch.setattr("blobs.services.MAX_BLOB_BYTES", 1000)
    _, body = owner_api.post("/blobs", {"blob": {"name": "big", "content_type": "text/plain"}})
    blob = body["blob"]
    assert post_to_bucket(blob["blob_object_access"]["params"], b"x" * 1001).status_code == 201
    status, errors = owner_api.put(f"/blobs/{blob['id']}/complete", {"size": 500})
    assert status == 422 and "size" in errors["errors"]
    assert keys(s3) == []


def test_delete_removes_the_object(s3, owner_api, django_capture_on_commit_callbacks):
    _, body = owner_api.post("/blobs", {"blob": {"name": "a", "content_type": "text/plain"}})
    blob = body["blob"]
    post_to_bucket(blob["blob_object_access"]["params"], b"bytes", content_type="text/plain")
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_api.delete(f"/blobs/{blob['id']}")[0] == 200
    with pytest.raises(ClientError):
        s3.head_object(Bucket=BUCKET, Key=blob["uid"])


def test_public_blob_redirects_to_the_public_base(s3, owner_api, client, settings):
    settings.S3_PUBLIC_URL = "https://cdn.example.com"
    _, body = owner_api.post(
        "/blobs", {"blob": {"name": "a", "content_type": "text/plain", "public": 1}}
    )
    blob = body["blob"]
    post_to_bucket(blob["blob_object_access"]["params"], b"hi", content_type="text/plain")
    owner_api.put(f"/blobs/{blob['id']}/complete", {"size": 2})
    redirect = client.get(f"/blobs/{blob['uid']}/download")
    assert redirect.status_code == 302
    assert redirect["Location"] == f"https://cdn.example.com/{blob['uid']}"


def test_record_files_on_s3(s3, owner_api, owner, client, application):
    import time

    from classes.models import Field, ObjectClass
    from records.ids import new_object_id
    from records.models import Record

    klass = ObjectClass.objects.create(application=application, name="doc")
    Field.objects.create(object_class=klass, name="scan", type="file")
    now = int(time.time())
    record = Record.objects.create(
        id=new_object_id(),
        application=application,
        object_class=klass,
        user_id=owner.pk,
        created_at=now,
        updated_at=now,
        data={"scan": None},
    )
    stream = MultipartStream(
        {"field_name": "scan"}, content=DATA, filename="scan.jpg", file_type="image/jpeg"
    )
    response = post_form(
        client, f"/data/doc/{record.pk}/file", stream, HTTP_CB_TOKEN=owner_api.token
    )
    assert response.status_code == 200
    value = response.json()
    assert re.fullmatch(r"[0-9a-f]{24}", value["file_id"])
    assert keys(s3) == [file_key(value["file_id"])]
    got = client.get(
        f"/data/doc/{record.pk}/file", {"field_name": "scan"}, HTTP_CB_TOKEN=owner_api.token
    )
    assert got.status_code == 200 and b"".join(got.streaming_content) == DATA


def test_cleanup_on_s3(s3, owner_api, monkeypatch):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from blobs.models import Blob

    _, body = owner_api.post("/blobs", {"blob": {"name": "a", "content_type": "text/plain"}})
    blob = body["blob"]
    post_to_bucket(
        blob["blob_object_access"]["params"], b"never completed", content_type="text/plain"
    )
    Blob.objects.filter(pk=blob["id"]).update(updated_at=timezone.now() - timedelta(days=2))
    s3.put_object(Bucket=BUCKET, Key="ab" * 17, Body=b"orphan")
    call_command("cleanup_blobs")
    assert not Blob.objects.filter(pk=blob["id"]).exists()
    assert keys(s3) == ["ab" * 17]  # young orphans are kept
    monkeypatch.setattr("blobs.cleanup.GRACE", timedelta(seconds=-60))
    call_command("cleanup_blobs")
    assert keys(s3) == []
