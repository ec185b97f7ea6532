"""A small HTTP client for tests against real server processes: JSON requests, multipart
bodies, and raw bytes written to a socket (for bodies no library would send)."""

import json
import socket
import uuid
from http.client import HTTPConnection
from urllib.parse import urlencode, urlsplit

TIMEOUT = 20


class Live:
    def __init__(self, url: str, token: str | None = None):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.token = token

    def request(self, method, path, body=None, *, headers=None, params=None):
        headers = {**({"CB-Token": self.token} if self.token else {}), **(headers or {})}
        if params:
            path += "?" + urlencode(params)
        if isinstance(body, dict):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        conn = HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, _decoded(response.read())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def delete(self, path, body=None, **kw):
        return self.request("DELETE", path, body, **kw)

    def raw(self, data: bytes, *, close_early: bool = False) -> bytes:
        """Write `data` to a fresh connection and answer what the server sent back (b"" if
        it closed without answering). `close_early` shuts the sending side after `data`, as
        a client that gave up mid-body."""
        with socket.create_connection((self.host, self.port), timeout=TIMEOUT) as sock:
            sock.sendall(data)
            if close_early:
                sock.shutdown(socket.SHUT_WR)
            chunks = []
            try:
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
                    if _complete(b"".join(chunks)):
                        break
            except (ConnectionResetError, TimeoutError):
                pass
            return b"".join(chunks)


def _complete(answer: bytes) -> bool:
    head, sep, body = answer.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def _decoded(content: bytes):
    try:
        return json.loads(content)
    except ValueError:
        return content


def multipart(fields: dict, files: dict) -> tuple[bytes, str]:
    """(body, content type) of a multipart form: text `fields`, then `files` as
    {name: (filename, bytes)}."""
    boundary = uuid.uuid4().hex
    out = b""
    for name, value in fields.items():
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    for name, (filename, content) in files.items():
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        out += content + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def http_request(method: str, path: str, headers: dict, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def status_of(answer: bytes) -> int | None:
    if not answer.startswith(b"HTTP/"):
        return None
    return int(answer.split(b" ", 2)[1])
