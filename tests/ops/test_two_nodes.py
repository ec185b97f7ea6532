"""Two server processes over one database and one S3 bucket share everything a client
sees: app nodes keep nothing of their own but caches that follow the database."""

import re
import time

import boto3
import pytest
import requests
from django.contrib.auth import get_user_model
from moto.server import ThreadedMotoServer

from accounts.models import Application
from classes.services import class_create
from tests.blobs.conftest import parse_params
from tests.conftest import PASSWORD, make_user

BUCKET = "two-nodes"


@pytest.fixture
def application(transactional_db):
    return Application.objects.create(name="two nodes")


def session(node, application, login=None) -> str:
    body = {"application_id": application.pk, "auth_key": application.auth_key}
    if login:
        body["user"] = {"login": login, "password": PASSWORD}
    response = requests.post(node.url + "/session", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["session"]["token"]


def test_a_session_made_on_one_node_works_on_the_other_and_a_logout_ends_it_everywhere(
    app_servers, application
):
    make_user(application, "dana")
    one, two = app_servers.start(n=2)
    token = session(one, application, "dana")
    answer = requests.get(two.url + "/session", headers={"CB-Token": token}, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["session"]["user"]["login"] == "dana"

    assert requests.delete(one.url + "/session", headers={"CB-Token": token}, timeout=10).ok
    answer = requests.get(two.url + "/session", headers={"CB-Token": token}, timeout=10)
    assert answer.status_code == 401  # at once: no retry, no wait


def console_client(node) -> requests.Session:
    get_user_model().objects.create_superuser("boss", "", "boss-password-1")
    browser = requests.Session()
    browser.get(node.url + "/admin/login/", timeout=10)
    response = browser.post(
        node.url + "/admin/login/",
        data={
            "username": "boss",
            "password": "boss-password-1",
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
        },
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text[:500]
    return browser


def test_a_permission_change_on_one_node_is_in_force_on_the_other_within_a_second(
    app_servers, application
):
    class_create(
        application=application,
        name="note",
        fields=[{"name": "text", "type": "string"}],
        permissions={"create": {"access": "open"}},
    )
    make_user(application, "dana")
    one, two = app_servers.start(n=2)
    token = session(two, application, "dana")

    def create_on_two() -> int:
        return requests.post(
            two.url + "/data/note", json={"text": "hi"}, headers={"CB-Token": token}, timeout=10
        ).status_code

    assert create_on_two() == 201  # node two has read (and may cache) the class

    browser = console_client(one)
    url = f"{one.url}/admin/accounts/application/{application.pk}/custom/note/permissions/"
    form = {"csrfmiddlewaretoken": browser.cookies["csrftoken"]}
    for action in ("create", "read", "update", "delete"):
        form[f"{action}-access"] = "not_allowed" if action == "create" else "open"
    saved = browser.post(url, data=form, allow_redirects=False, timeout=10)
    assert saved.status_code == 302, saved.text[:1000]
    changed_at = time.monotonic()

    while (status := create_on_two()) == 201 and time.monotonic() - changed_at < 1.0:
        time.sleep(0.05)
    assert status == 403, "node two still lets records be created a second after the change"


@pytest.fixture
def moto_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def test_a_file_uploaded_through_one_node_downloads_through_the_other(
    app_servers, application, moto_endpoint
):
    make_user(application, "dana")
    s3 = {
        "S3_BUCKET": BUCKET,
        "S3_ENDPOINT_URL": moto_endpoint,
        "S3_REGION": "us-east-1",
        "S3_ACCESS_KEY_ID": "testing",
        "S3_SECRET_ACCESS_KEY": "testing",
    }
    one, two = app_servers.start(n=2, env=s3)
    token = session(one, application, "dana")
    auth = {"CB-Token": token}
    content = b"\x89PNG\r\n" + bytes(range(256)) * 40

    created = requests.post(
        one.url + "/blobs",
        json={"blob": {"name": "cat.png", "content_type": "image/png"}},
        headers=auth,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    blob = created.json()["blob"]
    upload_url, fields = parse_params(blob["blob_object_access"]["params"])
    assert upload_url.startswith(moto_endpoint)
    uploaded = requests.post(
        upload_url, data=fields, files={"file": ("cat.png", content, "image/png")}, timeout=30
    )
    assert uploaded.status_code == 201
    done = requests.put(
        f"{one.url}/blobs/{blob['id']}/complete",
        json={"size": len(content)},
        headers=auth,
        timeout=10,
    )
    assert done.status_code == 200, done.text

    redirect = requests.get(
        f"{two.url}/blobs/{blob['uid']}", headers=auth, allow_redirects=False, timeout=10
    )
    assert redirect.status_code == 302
    assert re.search(rf"/{BUCKET}/{blob['uid']}\?", redirect.headers["Location"])
    downloaded = requests.get(redirect.headers["Location"], timeout=30)
    assert downloaded.status_code == 200 and downloaded.content == content
