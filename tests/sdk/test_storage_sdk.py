"""The official ConnectyCube JavaScript SDK stores, reads and deletes a file against the live
server, unchanged (API.md §7): createAndUpload posts its Buffer (a part without a filename)
to the upload URL the server handed out, and privateUrl downloads it back."""

import os

import pytest

from blobs.models import Blob
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.sdk, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def media(settings, tmp_path):
    root = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root)},
        },
    }
    return root


def test_create_upload_info_download_delete(run_sdk, application, media, tmp_path):
    user = make_user(application, "fox")
    data = os.urandom(300_000)
    source = tmp_path / "notes.bin"
    source.write_bytes(data)
    result = run_sdk(
        """
        await CB.createSession({login: env.login, password: env.password});
        const bytes = require("fs").readFileSync(env.path);
        const blob = await CB.storage.createAndUpload({
          file: bytes, name: "notes.bin", type: "application/octet-stream",
          size: bytes.length, public: false,
        });
        const info = await CB.storage.getInfo(blob.id);
        const response = await fetch(CB.storage.privateUrl(blob.uid));
        const body = Buffer.from(await response.arrayBuffer());
        const anonymous = await fetch(CB.storage.publicUrl(blob.uid), {redirect: "manual"});
        const listed = await CB.storage.list({page: 1, per_page: 10});
        const object = await CB.storage.getFileObject(blob.uid, {download_url: 1});
        await CB.storage.delete(blob.id);
        let afterDelete = null;
        try { await CB.storage.getInfo(blob.id); } catch (e) { afterDelete = e.code; }
        return {
          blob, info: info.blob, status: response.status,
          type: response.headers.get("content-type"),
          same: body.equals(bytes), length: body.length,
          anonymous: anonymous.status, listed: listed.items.map((i) => i.blob.uid),
          hasUrl: Boolean(object.blob.blob_object_access.download_url), afterDelete,
        };
        """,
        login=user.login,
        password=PASSWORD,
        path=str(source),
    )
    blob = result["blob"]
    assert blob["size"] == len(data) and blob["name"] == "notes.bin" and blob["public"] is False
    assert result["info"]["blob_status"] == "complete"
    assert result["info"]["size"] == len(data)
    assert result["status"] == 200 and result["type"] == "application/octet-stream"
    assert result["same"] is True and result["length"] == len(data)
    assert result["anonymous"] == 401
    assert result["listed"] == [blob["uid"]]
    assert result["hasUrl"] is True
    assert result["afterDelete"] == 404
    assert not Blob.objects.exists()
    assert not [p for p in media.rglob("*") if p.is_file()]


def test_public_file_downloads_without_a_session(run_sdk, application, media):
    user = make_user(application, "owl")
    result = run_sdk(
        """
        await CB.createSession({login: env.login, password: env.password});
        const bytes = Buffer.from("a public note", "utf8");
        const blob = await CB.storage.createAndUpload({
          file: bytes, name: "note.txt", type: "text/plain", size: bytes.length,
        });
        await CB.destroySession();
        const response = await fetch(CB.storage.publicUrl(blob.uid));
        return {public: blob.public, status: response.status, text: await response.text()};
        """,
        login=user.login,
        password=PASSWORD,
    )
    assert result == {"public": True, "status": 200, "text": "a public note"}
