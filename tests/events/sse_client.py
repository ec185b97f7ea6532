"""A Server-Sent Events client for tests and the benchmark: reads a stream in a thread."""

import json
import threading
import time

import httpx


class SseClient:
    """`SseClient(url, token=..., params=..., headers=...)` opens the stream at once;
    `.events` fills as events arrive (each with the local arrival time), `.status` is the
    answer's status, `.closed` is set when the server ends the stream."""

    def __init__(self, url, *, token=None, params=None, headers=None):
        self.url = url
        self.params = {**(params or {}), **({"token": token} if token else {})}
        self.headers = headers or {}
        self.events: list[dict] = []
        self.comments: list[str] = []
        self.status = None
        self.opened = threading.Event()
        self.closed = threading.Event()
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.opened.wait(15), "the stream did not open"

    def _run(self):
        try:
            timeout = httpx.Timeout(10, read=None)
            with httpx.stream(
                "GET", self.url, params=self.params, headers=self.headers, timeout=timeout
            ) as response:
                self.status = response.status_code
                self.opened.set()
                if response.status_code != 200:
                    self.body = response.read().decode()
                    return
                frame = {}
                for line in response.iter_lines():
                    if self._stop:
                        return
                    self._line(line, frame)
        except httpx.HTTPError:
            pass
        finally:
            self.opened.set()
            self.closed.set()

    def _line(self, line: str, frame: dict) -> None:
        if line == "":
            if "event" in frame:
                frame["at"] = time.monotonic()
                if "data" in frame:
                    frame["data"] = json.loads(frame["data"])
                self.events.append(dict(frame))
            frame.clear()
        elif line.startswith(":"):
            self.comments.append(line)
        else:
            name, _, value = line.partition(":")
            frame[name] = value[1:] if value.startswith(" ") else value

    def wait_for(self, count: int, timeout: float = 10) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            if self.closed.is_set():
                break
            time.sleep(0.01)
        return self.events

    def close(self):
        self._stop = True
