"""Reading a subscription the way a client does, against the async view in-process."""

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

from django.test import AsyncClient


def parse_frames(text: str) -> list[dict]:
    """SSE text -> [{"id", "event", "data"}], comments and pings left out."""
    frames = []
    for block in text.split("\n\n"):
        frame = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            frame[name] = value
        if "event" in frame:
            if "data" in frame:
                frame["data"] = json.loads(frame["data"])
            frames.append(frame)
    return frames


class Stream:
    """An open subscription: `await stream.events(n)` reads until n events arrived."""

    def __init__(self, response):
        self.response = response
        self.status = response.status_code
        self.iterator = aiter(response.streaming_content) if response.streaming else None
        self.text = ""

    async def events(self, count: int, timeout: float = 5.0) -> list[dict]:
        async def fill():
            while len(parse_frames(self.text)) < count:
                chunk = await anext(self.iterator)
                self.text += chunk.decode() if isinstance(chunk, bytes) else chunk

        await asyncio.wait_for(fill(), timeout)
        return parse_frames(self.text)[:count]

    async def quiet_for(self, seconds: float) -> list[dict]:
        """Everything that arrives within `seconds` (for "nothing arrives" checks)."""
        try:
            await self.events(10**6, timeout=seconds)
        except (TimeoutError, StopAsyncIteration):
            pass
        return parse_frames(self.text)

    async def ended(self, timeout: float = 5.0) -> bool:
        async def drain():
            async for chunk in self.iterator:
                self.text += chunk.decode() if isinstance(chunk, bytes) else chunk

        await asyncio.wait_for(drain(), timeout)
        return True

    async def close(self):
        if self.iterator is not None:
            await self.iterator.aclose()


async def subscribe(token, class_name="thing", params=None, headers=None) -> Stream:
    client = AsyncClient()
    query = dict(params or {})
    if token:
        query["token"] = token
    response = await client.get(f"/data/{class_name}/events", query, headers=headers or {})
    return Stream(response)


def run(coroutine):
    """Run a scenario on its own event loop in a thread of its own: the browser tests'
    Playwright keeps an event loop running in the main thread for the whole session, and
    asyncio.run() refuses to start beside it."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
