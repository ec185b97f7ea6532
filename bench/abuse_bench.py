#!/usr/bin/env python
"""Abusive clients against the production server: what normal requests see meanwhile.

    .venv/bin/python bench/abuse_bench.py [--seconds 10] [--workers N] [--slow 50] [--flooders 12]

One server (`make run`'s: gunicorn + uvicorn workers, CPUs + 1 of them) on a throwaway
embedded PostgreSQL. A steady "normal" load (4 clients, each a keep-alive connection doing
`GET /data/{class}/{id}` every 20 ms) runs alone, then beside each abuse, and the table
gives its p50/p95/max latency:

- slow clients: `--slow` connections, a third sending nothing, a third sending their
  headers a byte a second, a third declaring `Content-Length: 1000` and sending one byte;
- login flood: `--flooders` clients posting wrong passwords to `POST /session` as fast as
  the answers come, first with the throttle off (limits out of reach), then on (defaults).

Each scenario runs `--rounds` times, interleaved; figures are medians over the rounds.
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._live import Database, Server  # noqa: E402


def prepare() -> dict:
    from accounts.caller import Caller
    from accounts.models import ApiSession, ApiUser, Application
    from classes.services import class_create
    from records.services import record_create

    app = Application.objects.create(name="abuse bench")
    klass = class_create(
        application=app,
        name="thing",
        fields=[{"name": "n", "type": "integer"}],
        permissions={"read": {"access": "open", "use_class_permissions": True}},
    )
    record = record_create(caller=Caller.admin(app), klass=klass, data={"n": 1})
    user = ApiUser(application=app, login="victim")
    user.set_password("the-right-password")
    user.save()
    _, token = ApiSession.open(application=app)
    return {"app": app, "path": f"/data/thing/{record.pk}", "token": token}


class Normal(threading.Thread):
    """One client of the steady load: a keep-alive GET every `pause` seconds."""

    def __init__(self, port, path, token, until, pause=0.02):
        super().__init__(daemon=True)
        self.port, self.path, self.token, self.until, self.pause = port, path, token, until, pause
        self.latencies, self.errors = [], 0

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while time.monotonic() < self.until:
            began = time.perf_counter()
            try:
                conn.request("GET", self.path, headers={"CB-Token": self.token})
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    self.errors += 1
            except OSError:
                self.errors += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            self.latencies.append(time.perf_counter() - began)
            time.sleep(self.pause)
        conn.close()


class SlowClients(threading.Thread):
    """`count` abusive connections, kept abusive until `until` (reopened when the server
    closes them, as an attacker would)."""

    def __init__(self, port, count, until):
        super().__init__(daemon=True)
        self.port, self.count, self.until = port, count, until
        self.reopened = 0

    def _open(self, kind):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        if kind == "body":
            sock.sendall(
                b"POST /session HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
            )
        return [sock, kind, 0]

    def run(self):
        kinds = ["silent", "headers", "body"]
        conns = [self._open(kinds[i % 3]) for i in range(self.count)]
        head = b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 4000
        while time.monotonic() < self.until and not STOP:
            for conn in conns:
                sock, kind, sent = conn
                try:
                    if kind == "headers":
                        sock.send(head[sent : sent + 1])
                        conn[2] = sent + 1
                except OSError:  # closed by the server: open another one
                    sock.close()
                    conn[:] = self._open(kind)
                    self.reopened += 1
            time.sleep(1)
        for sock, _, _ in conns:
            sock.close()


def flood(port, app, until, counts, throttled):
    body = json.dumps(
        {
            "application_id": app.pk,
            "auth_key": app.auth_key,
            "user": {"login": "victim", "password": "wrong"},
        }
    )
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.monotonic() < until and not STOP:
        try:
            conn.request("POST", "/session", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            counts[response.status] = counts.get(response.status, 0) + 1
            if response.status == 429:
                throttled.set()
        except OSError:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.close()


def wait_idle(server, bound=60.0) -> None:
    """Until the server's processes use under 5% CPU (what an earlier run queued is done)."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        before = server.cpu_seconds()
        time.sleep(0.5)
        if server.cpu_seconds() - before < 0.025:
            return


def scenario(server, ctx, kind, seconds, args) -> dict:
    """The normal load for `seconds` once the abuse is in place. A login flood with the
    throttle on is measured once the throttle answers (the attack's steady state); the
    seconds before that are the same as with the throttle off."""
    wait_idle(server)
    end_of_abuse = time.monotonic() + seconds + 60
    extra, counts, throttled = [], {}, threading.Event()
    if kind == "slow clients":
        extra = [SlowClients(server.port, args.slow, end_of_abuse)]
    elif kind.startswith("login flood"):
        extra = [
            threading.Thread(
                target=flood, args=(server.port, ctx["app"], end_of_abuse, counts, throttled)
            )
            for _ in range(args.flooders)
        ]
    for thread in extra:
        thread.start()
    if kind.endswith("throttle on"):
        throttled.wait(timeout=60)
    else:
        time.sleep(2 if extra else 0)  # let the abuse set in
    counts.clear()
    until = time.monotonic() + seconds
    clients = [Normal(server.port, ctx["path"], ctx["token"], until) for _ in range(4)]
    for client in clients:
        client.start()
    for thread in clients:
        thread.join(timeout=seconds + 60)
    flood_counts = dict(counts)
    stop_abuse(extra)
    latencies = sorted(x for c in clients for x in c.latencies)
    return {
        "p50": latencies[len(latencies) // 2] * 1000,
        "p95": latencies[int(len(latencies) * 0.95)] * 1000,
        "max": latencies[-1] * 1000,
        "requests": len(latencies),
        "errors": sum(c.errors for c in clients),
        "flood": flood_counts,
    }


def stop_abuse(threads) -> None:
    """The abusers run until told: a shared deadline moved to now."""
    global STOP
    STOP = True
    for thread in threads:
        thread.join(timeout=90)
    STOP = False


STOP = False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) + 1)
    parser.add_argument("--slow", type=int, default=50)
    parser.add_argument("--flooders", type=int, default=12)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cubebase-bench-") as tmp:
        db = Database(Path(tmp))
        ctx = prepare()
        off = {
            "LOGIN_MAX_FAILURES_PER_LOGIN": "1000000",
            "LOGIN_MAX_FAILURES_PER_ADDRESS": "1000000",
        }
        servers = {
            "on": Server(db.url, Path(tmp), workers=args.workers),
            "off": Server(db.url, Path(tmp), workers=args.workers, env=off),
        }
        plan = [
            ("alone", "on"),
            ("slow clients", "on"),
            ("login flood, throttle off", "off"),
            ("login flood, throttle on", "on"),
        ]
        results = {name: [] for name, _ in plan}
        try:
            for round_no in range(args.rounds):
                for name, which in plan:
                    from accounts.models import LoginFailures

                    LoginFailures.objects.all().delete()  # each flood starts unthrottled
                    results[name].append(scenario(servers[which], ctx, name, args.seconds, args))
                print(f"round {round_no + 1}/{args.rounds} done", flush=True)
        finally:
            for server in servers.values():
                server.stop()
            db.stop()

    print(
        f"\n{args.workers} workers; normal load: 4 keep-alive clients, GET /data/{{class}}/{{id}}"
        f" every 20 ms; {args.seconds} s per run, medians of {args.rounds} interleaved rounds"
    )
    print(
        f"{'scenario':<28} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'normal req':>10} {'errors':>6}  flood answers/s"
    )
    for name, runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in ("p50", "p95", "max", "requests")}
        errors = sum(r["errors"] for r in runs)
        flood = ""
        if runs[0]["flood"]:
            total = {}
            for r in runs:
                for status, n in r["flood"].items():
                    total[status] = total.get(status, 0) + n
            per_s = {s: n / (args.seconds * args.rounds) for s, n in sorted(total.items())}
            flood = ", ".join(f"{s}: {v:.0f}" for s, v in per_s.items())
        print(
            f"{name:<28} {med['p50']:>7.1f} {med['p95']:>7.1f} {med['max']:>7.1f}"
            f" {med['requests']:>10.0f} {errors:>6}  {flood}"
        )


if __name__ == "__main__":
    main()
