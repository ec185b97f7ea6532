"""The ASGI application of bench/async_floor.py: the statements cubebase sends for a
request, and nothing else, sent from the event loop on an asynchronous psycopg pool
(FLOOR_MODE=loop) or from a pool of threads with a synchronous connection each (thread).

No Django, no validation, no permission gate, no log line: a floor to measure against, not
a server. FLOOR_PLAN (JSON, written by bench/async_floor.py) holds the session
statement and, per request path and method, the statement the API sent for it with its
parameters; `fresh` names the parameter that takes a new record id (a create) and `body`
the one that takes the request's body (its JSON), `path_id` the one that takes the
record id at the end of the path (`PUT /data/item/*`)."""

import asyncio
import hashlib
import json
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
from psycopg_pool import AsyncConnectionPool

PLAN = json.loads(os.environ.get("FLOOR_PLAN", "{}"))
# "loop": the statements from the event loop; "thread": from a pool of threads, each with
# its own synchronous connection, as cubebase sends them (the hop without Django)
MODE = os.environ.get("FLOOR_MODE", "loop")
THREADS = 4
pool: AsyncConnectionPool | None = None
threads: ThreadPoolExecutor | None = None
local = threading.local()


async def _lifespan(receive, send) -> None:
    global pool, threads
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup" and MODE == "thread":
            threads = ThreadPoolExecutor(THREADS)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.startup":
            pool = AsyncConnectionPool(
                os.environ["DATABASE_URL"],
                min_size=4,
                max_size=4,
                kwargs={"autocommit": True},
                open=False,
            )
            await pool.open()
            await send({"type": "lifespan.startup.complete"})
        else:
            if pool is not None:
                await pool.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _answer(send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def application(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    if scope["path"] == "/health/live":
        return await _answer(send, 200, b"{}")
    method, path = scope["method"], scope["path"]
    head, _, last = path.rpartition("/")
    request = PLAN["requests"].get(f"{method} {path}") or PLAN["requests"].get(f"{method} {head}/*")
    if request is None:
        return await _answer(send, 404, b"{}")
    body, more = b"", True
    while more:
        message = await receive()
        body, more = body + message.get("body", b""), message.get("more_body", False)
    token = dict(scope["headers"]).get(b"cb-token", b"")
    params = list(request["params"])
    if request["fresh"] is not None:
        params[request["fresh"]] = secrets.token_hex(12)
    if request["path_id"] is not None:
        params[request["path_id"]] = last
    if request["body"] is not None:
        params[request["body"]] = json.dumps(json.loads(body))
    token_hash = hashlib.sha256(token).hexdigest()
    if MODE == "thread":
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(threads, _in_thread, token_hash, request, params)
    else:
        found = await _in_loop(token_hash, request, params)
    if found is None:
        return await _answer(send, 401, b"{}")
    status = 201 if method == "POST" else 200
    return await _answer(send, status, json.dumps({"items": found}, default=str).encode())


async def _in_loop(token_hash: str, request: dict, params: list) -> list | None:
    async with pool.connection() as connection:
        cursor = await connection.execute(PLAN["session"], [token_hash], prepare=True)
        if await cursor.fetchone() is None:
            return None
        cursor = await connection.execute(request["sql"], params, prepare=True)
        rows = await cursor.fetchall()
    names = [column.name for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in rows]


def _in_thread(token_hash: str, request: dict, params: list) -> list | None:
    if not hasattr(local, "connection"):
        local.connection = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
    cursor = local.connection.execute(PLAN["session"], [token_hash], prepare=True)
    if cursor.fetchone() is None:
        return None
    cursor = local.connection.execute(request["sql"], params, prepare=True)
    names = [column.name for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
