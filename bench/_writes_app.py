"""The ASGI application of bench/response_writes.py: a JSON answer of the size of a
record, to every request, and nothing else. Served by the production worker class
(ops.uvicorn_worker.Worker); with HEAD_HELD=0 its protocol writes a response's head and
body apart, as uvicorn does."""

import os

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ops import uvicorn_worker

if os.environ.get("HEAD_HELD") == "0":

    def on_headers_complete(self):
        self._stop_head_timer()
        HttpToolsProtocol.on_headers_complete(self)

    uvicorn_worker.Protocol.on_headers_complete = on_headers_complete

BODY = (
    b'{"_id":"65f1e0c2b9a7d3e001234567","_parent_id":null,"user_id":1,'
    b'"created_at":1764547200,"updated_at":1764547200,"n":1,"score":2.5,"name":"x",'
    b'"tags":["a","b"]}'
)
HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))]


async def application(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
