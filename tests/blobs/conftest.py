"""Fixtures of the storage tests: a private filesystem storage per test, the SDK's way of
reading `blob_object_access.params`, and multipart bodies built as streams (so a 100 MB
upload is generated on the fly, never held in memory)."""

import base64
import json
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from blobs.models import Blob


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root)},
        },
    }
    return root


def stored_files(root: Path) -> list[str]:
    """Every file under the storage root, staging area included."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def parse_params(params: str) -> tuple[str, dict]:
    """(upload URL, form fields) exactly as the SDK's createAndUpload reads them."""
    parts = urlsplit(params)
    fields = {}
    for pair in parts.query.split("&"):
        key, _, value = pair.partition("=")
        if key:
            fields[key] = unquote(value)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", fields


def decode_policy(policy: str) -> dict:
    return json.loads(base64.b64decode(policy))


class MultipartStream:
    """A multipart/form-data body read lazily: text fields, then one file part whose
    `size` bytes are produced on demand. `read_bytes` counts what the server consumed."""

    def __init__(
        self,
        fields: dict,
        *,
        content: bytes = b"",
        size: int | None = None,
        filename: str | None = None,
        file_type="application/octet-stream",
        file_field="file",
    ):
        self.boundary = uuid.uuid4().hex
        head = b"".join(self._field(k, v) for k, v in fields.items())
        disposition = f'form-data; name="{file_field}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        head += (
            f"--{self.boundary}\r\nContent-Disposition: {disposition}\r\n"
            f"Content-Type: {file_type}\r\n\r\n"
        ).encode()
        self.size = len(content) if size is None else size
        self.content = content
        self.segments = [head, None, f"\r\n--{self.boundary}--\r\n".encode()]
        self.length = len(head) + self.size + len(self.segments[2])
        self.position = 0
        self.read_bytes = 0

    def _field(self, name, value) -> bytes:
        return (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def _byte_at(self, start: int, count: int) -> bytes:
        head = self.segments[0]
        out = bytearray()
        end = start + count
        pos = start
        while pos < end and pos < self.length:
            if pos < len(head):
                take = head[pos:end]
            elif pos < len(head) + self.size:
                offset = pos - len(head)
                n = min(end, len(head) + self.size) - pos
                if self.content:
                    take = self.content[offset : offset + n]
                else:
                    take = b"\x5a" * n
            else:
                offset = pos - len(head) - self.size
                take = self.segments[2][offset : offset + (end - pos)]
            out += take
            pos += len(take)
        return bytes(out)

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self.length - self.position
        data = self._byte_at(self.position, n)
        self.position += len(data)
        self.read_bytes = self.position
        return data

    def readline(self, *args):  # WSGI input interface; multipart parsing never calls it
        return self.read(*args)


def post_form(client, url: str, stream: MultipartStream, **headers):
    path = urlsplit(url).path
    query = urlsplit(url).query
    return client.generic(
        "POST",
        path + (f"?{query}" if query else ""),
        **{
            "wsgi.input": stream,
            "CONTENT_LENGTH": str(stream.length),
            "CONTENT_TYPE": stream.content_type,
            **headers,
        },
    )


@pytest.fixture
def upload(client):
    """upload(params_url, content=b"..", filename=None, **field overrides) -> response,
    posting the fields the server handed out plus `file`, as the SDK does."""

    def run(params: str, content: bytes = b"", *, size=None, filename=None, fields=None, drop=()):
        url, form = parse_params(params)
        form.update(fields or {})
        for name in drop:
            form.pop(name, None)
        stream = MultipartStream(form, content=content, size=size, filename=filename)
        response = post_form(client, url, stream)
        response.stream = stream
        return response

    return run


@pytest.fixture
def blob_of(owner_api):
    """Create a blob through the API and answer (blob JSON incl. access, Blob row)."""

    def create(name="cat.jpeg", content_type="image/jpeg", public=False, api=None):
        status, body = (api or owner_api).post(
            "/blobs", {"blob": {"name": name, "content_type": content_type, "public": public}}
        )
        assert status == 201, body
        return body["blob"], Blob.objects.get(pk=body["blob"]["id"])

    return create
