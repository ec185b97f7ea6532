"""Storage benchmark: a 100 MB file up and down through the filesystem backend.

    .venv/bin/python bench/blobs_bench.py [--mb 100]

Starts the server (`manage.py runserver --noreload`, one process) as a subprocess on a free
port, then does what a client does: open a session, POST /blobs, POST the multipart form to
the upload URL it was given (the body streamed from a file on disk, 1 MiB at a time, with a
Content-Length), PUT /complete, GET /blobs/{uid} and follow the 302, reading the download in
1 MiB chunks and checking its SHA-256. Prints MB/s both ways and the server's memory growth:
its peak resident size (VmHWM) at the end against its resident size (VmRSS) just before the
upload. Fails if that growth reaches 50 MB.

Uses its own throwaway embedded PostgreSQL unless DATABASE_URL is set (then it removes the
application it made at the end). Files go to a temporary MEDIA_ROOT.
"""

import argparse
import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MIB = 1024 * 1024
LIMIT_GROWTH = 50 * MIB
PASSWORD = "bench-password-1"


def database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    from config import embedded_db

    db = embedded_db.start_throwaway()
    return f"postgresql://{db['USER']}@/{db['NAME']}?host={db['HOST']}"


def setup_django(url: str, media: Path) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["MEDIA_ROOT"] = str(media)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "bench-" + uuid.uuid4().hex)
    import django

    django.setup()


def make_user():
    from accounts.models import ApiUser, Application

    app = Application.objects.create(name="blobs bench")
    user = ApiUser(application=app, login="bench")
    user.set_password(PASSWORD)
    user.save()
    return app, user


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(port: int, log) -> subprocess.Popen:
    """runserver on `port`, its output in the open file `log`; answers once it accepts."""
    argv = [sys.executable, str(ROOT / "manage.py"), "runserver", f"127.0.0.1:{port}"]
    server = subprocess.Popen(
        [*argv, "--noreload", "--skip-checks"], cwd=ROOT, stdout=log, stderr=log, env=os.environ
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit("the server did not start:\n" + Path(log.name).read_text(errors="replace"))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    sys.exit("the server did not answer within 60 s")


def memory(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) * 1024
    return values


def call(port, method, path, body=None, token=None) -> tuple[int, dict, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["CB-Token"] = token
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), (json.loads(raw) if raw.strip() else {})


class FormBody:
    """A multipart body whose file part is read from disk as it is sent."""

    def __init__(self, fields: dict, path: Path):
        self.boundary = uuid.uuid4().hex
        head = "".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in fields.items()
        )
        head += (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="file"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        self.parts = [head.encode(), path, f"\r\n--{self.boundary}--\r\n".encode()]
        self.length = len(self.parts[0]) + path.stat().st_size + len(self.parts[2])

    def __iter__(self):
        yield self.parts[0]
        with self.parts[1].open("rb") as handle:
            while chunk := handle.read(MIB):
                yield chunk
        yield self.parts[2]


def upload(port, params: str, path: Path) -> float:
    url = urlsplit(params)
    fields = {}
    for pair in url.query.split("&"):
        key, _, value = pair.partition("=")
        fields[key] = unquote(value)
    body = FormBody(fields, path)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=300)
    started = time.monotonic()
    conn.putrequest("POST", url.path)
    conn.putheader("Content-Type", f"multipart/form-data; boundary={body.boundary}")
    conn.putheader("Content-Length", str(body.length))
    conn.endheaders()
    for chunk in body:
        conn.send(chunk)
    response = conn.getresponse()
    answer = response.read()
    seconds = time.monotonic() - started
    conn.close()
    if response.status != 201:
        sys.exit(f"upload failed: {response.status} {answer[:300]!r}")
    return seconds


def download(location: str) -> tuple[float, int, str]:
    url = urlsplit(location)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=300)
    started = time.monotonic()
    conn.request("GET", f"{url.path}?{url.query}")
    response = conn.getresponse()
    if response.status != 200:
        sys.exit(f"download failed: {response.status} {response.read()[:300]!r}")
    digest, size = hashlib.sha256(), 0
    while chunk := response.read(MIB):
        digest.update(chunk)
        size += len(chunk)
    seconds = time.monotonic() - started
    conn.close()
    return seconds, size, digest.hexdigest()


def write_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    block = os.urandom(MIB)
    with path.open("wb") as out:
        for i in range(size // MIB):
            chunk = hashlib.sha256(i.to_bytes(8, "big")).digest() + block[32:]
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def run(port, app, user, source: Path, expected: str, size: int, server_pid: int) -> bool:
    status, _, body = call(
        port,
        "POST",
        "/session",
        {
            "application_id": app.pk,
            "auth_key": app.auth_key,
            "user": {"login": user.login, "password": PASSWORD},
        },
    )
    token = body["session"]["token"]
    status, _, body = call(
        port,
        "POST",
        "/blobs",
        {"blob": {"name": "bench.bin", "content_type": "application/octet-stream"}},
        token,
    )
    blob = body["blob"]
    before = memory(server_pid)
    up = upload(port, blob["blob_object_access"]["params"], source)
    status, _, _ = call(port, "PUT", f"/blobs/{blob['id']}/complete", {"size": size}, token)
    if status != 200:
        sys.exit(f"complete failed: {status}")
    status, headers, _ = call(port, "GET", f"/blobs/{blob['uid']}", token=token)
    if status != 302:
        sys.exit(f"download redirect failed: {status}")
    down, got, digest = download(headers["Location"])
    after = memory(server_pid)
    if got != size or digest != expected:
        sys.exit("the downloaded bytes differ from the uploaded file")
    growth = after["VmHWM"] - before["VmRSS"]
    mb = size / 1e6
    print(
        f"file      : {size / MIB:,.0f} MiB ({size:,} bytes), SHA-256 verified after the round trip"
    )
    print(
        f"upload    : {up:6.2f} s  {mb / up:8.1f} MB/s  (POST /blobs/upload, multipart, streamed)"
    )
    print(f"download  : {down:6.2f} s  {mb / down:8.1f} MB/s  (signed URL after the 302)")
    print(
        f"server    : VmRSS before upload {before['VmRSS'] / MIB:.1f} MiB, "
        f"VmHWM after download {after['VmHWM'] / MIB:.1f} MiB"
    )
    ok = growth < LIMIT_GROWTH
    print(
        f"growth    : {growth / MIB:.1f} MiB (limit {LIMIT_GROWTH / MIB:.0f} MiB): {'ok' if ok else 'TOO MUCH'}"
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100, help="file size in MiB (default 100)")
    args = parser.parse_args()
    size = args.mb * MIB
    with tempfile.TemporaryDirectory(prefix="blobs-bench-") as folder:
        tmp = Path(folder)
        setup_django(database_url(), tmp / "media")
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        app, user = make_user()
        source = tmp / "source.bin"
        expected = write_file(source, size)
        port = free_port()
        with (tmp / "server.log").open("wb") as log:
            server = start_server(port, log)
            try:
                ok = run(port, app, user, source, expected, size, server.pid)
            finally:
                server.terminate()
                server.wait(timeout=30)
                app.delete()
        if not ok:
            sys.exit(1)


if __name__ == "__main__":
    main()
