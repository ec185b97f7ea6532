"""Half-finished and racing uploads against a real server (tests/servers.py).

What a user would notice is checked: the bytes a download gives, the size a blob reports,
the files left in storage.
"""

import json
import os
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from blobs.models import Blob, StoredFile
from records.models import Record
from tests.conftest import make_user, token_for
from tests.records.conftest import make_class

from .live import Live, http_request, multipart, status_of

MB = 1024 * 1024


@pytest.fixture
def media(tmp_path) -> Path:
    """The server's own storage folder, so the files counted are this test's."""
    return tmp_path / "media"


@pytest.fixture
def live(app_servers, application, media):
    (server,) = app_servers.start(n=1, workers=2, env={"MEDIA_ROOT": str(media)})
    make_class(application, fields=[("name", "string"), ("avatar", "file")])
    token = token_for(application, make_user(application, "uploader"))
    return Live(server.url, token)


def _file_of(live, record_id):
    return live.get(f"/data/profile/{record_id}/file", params={"field_name": "avatar"})


def _upload_body(content: bytes) -> tuple[bytes, str]:
    return multipart({"field_name": "avatar"}, {"file": ("a.bin", content)})


def test_a_record_file_upload_cut_short_keeps_the_previous_file(live):
    status, record = live.post("/data/profile", {"name": "x"})
    good = os.urandom(MB)
    body, content_type = _upload_body(good)
    path = f"/data/profile/{record['_id']}/file"
    assert live.post(path, body, headers={"Content-Type": content_type})[0] == 200

    replacement, content_type = _upload_body(b"y" * MB)
    half = replacement[: len(replacement) // 2]
    headers = {"CB-Token": live.token, "Content-Type": content_type}
    # The body ends early, its length declared as sent: a proxy or client that cut it.
    cut = live.raw(http_request("POST", path, {**headers, "Content-Length": len(half)}, half))
    assert status_of(cut) == 400
    # The client closes half way through the length it declared.
    request = http_request("POST", path, {**headers, "Content-Length": len(replacement)}, half)
    gone = live.raw(request, close_early=True)
    assert status_of(gone) in (None, 400)

    status, content = _file_of(live, record["_id"])
    assert status == 200 and content == good
    assert StoredFile.objects.filter(record_id=record["_id"]).count() == 1


def test_concurrent_uploads_of_one_file_field_leave_exactly_one_file(live, media):
    status, record = live.post("/data/profile", {"name": "x"})
    path = f"/data/profile/{record['_id']}/file"
    contents = [bytes([n]) * (200_000 + n) for n in range(6)]
    statuses = []

    def send(content):
        body, content_type = _upload_body(content)
        statuses.append(live.post(path, body, headers={"Content-Type": content_type})[0])

    threads = [threading.Thread(target=send, args=(c,)) for c in contents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == [200] * len(contents)
    value = Record.objects.get(pk=record["_id"]).data["avatar"]
    status, content = _file_of(live, record["_id"])
    assert content in contents and len(content) == value["size"]
    assert list(
        StoredFile.objects.filter(record_id=record["_id"]).values_list("id", flat=True)
    ) == [value["file_id"]]
    _wait_for(lambda: _stored_files(media) == 1)


def _stored_files(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.is_file())


def _wait_for(condition, seconds=5.0):
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.05)


def _form(params: str) -> tuple[str, dict]:
    parts = urlsplit(params)
    fields = dict(pair.partition("=")[::2] for pair in parts.query.split("&") if pair)
    return parts.path, {k: unquote(v) for k, v in fields.items()}


def _send_upload(live, params: str, content: bytes) -> int:
    path, fields = _form(params)
    body, content_type = multipart(fields, {"file": ("f.bin", content)})
    return live.post(path, body, headers={"Content-Type": content_type})[0]


ROUNDS = 8


def test_an_upload_racing_complete_never_changes_a_completed_blob(live, media):
    for _ in range(ROUNDS):
        status, answer = live.post("/blobs", {"blob": {"name": "f", "content_type": "a/b"}})
        blob = answer["blob"]
        params = blob["blob_object_access"]["params"]
        assert _send_upload(live, params, b"0123456789") == 201
        results = {}

        def big(params=params, results=results):
            results["upload"] = _send_upload(live, params, b"z" * (3 * MB))

        def complete(blob_id=blob["id"], results=results):
            results["complete"] = live.put(f"/blobs/{blob_id}/complete", {"size": 10})[0]

        threads = [threading.Thread(target=big), threading.Thread(target=complete)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        row = Blob.objects.get(pk=blob["id"])
        stored = media / row.key
        if row.is_complete:
            assert row.size == stored.stat().st_size == 10, results
            assert results["upload"] in (201, 403, 409), results
        else:
            assert results["complete"] == 422, results
        # Whatever happened, once complete the object never changes again.
        if not row.is_complete:
            assert live.put(f"/blobs/{blob['id']}/complete", {"size": 3 * MB})[0] == 200
            row.refresh_from_db()
        size = row.size
        assert _send_upload(live, params, b"late") in (403, 409)
        assert stored.stat().st_size == size


def test_a_policy_issued_before_a_reopen_no_longer_uploads(live):
    status, answer = live.post("/blobs", {"blob": {"name": "f", "content_type": "a/b"}})
    blob = answer["blob"]
    old_params = blob["blob_object_access"]["params"]
    assert _send_upload(live, old_params, b"first") == 201
    assert live.put(f"/blobs/{blob['id']}/complete", {"size": 5})[0] == 200
    status, reopened = live.put(f"/blobs/{blob['id']}", {"blob": {"new": 1}})
    assert status == 200, reopened
    assert _send_upload(live, old_params, b"stale upload") == 403
    new_params = reopened["blob"]["blob_object_access"]["params"]
    assert _send_upload(live, new_params, b"second") == 201


@pytest.mark.parametrize("path", ["/data/profile", "/data/profile.json"])
def test_a_chunked_body_is_read_not_dropped(live, path):
    data = json.dumps({"name": "chunked"}).encode()
    chunked = b"".join(
        b"%x\r\n%s\r\n" % (len(data[i : i + 5]), data[i : i + 5]) for i in range(0, len(data), 5)
    )
    chunked += b"0\r\n\r\n"
    headers = {
        "CB-Token": live.token,
        "Content-Type": "application/json",
        "Transfer-Encoding": "chunked",
    }
    answer = live.raw(http_request("POST", path, headers, chunked))
    assert status_of(answer) == 201, answer[:300]
    body = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert body["name"] == "chunked"
    assert Record.objects.get(pk=body["_id"]).data == {"name": "chunked"}
