#!/usr/bin/env python
"""Live events benchmark: capacity of one node, delivery latency across nodes, the API's
throughput with subscriptions open, and webhooks after a receiver outage.

    .venv/bin/python bench/events_bench.py [--subscriptions 1000] [--rate 200] [--seconds 20]
                                           [--rounds 3] [--wrk-seconds 5] [--down 30]
                                           [--skip-webhooks | --webhooks-only]
                                           [--retry-base 1] [--write-every 0.05]

A throwaway embedded PostgreSQL, two production servers (ops/server.py) on it: node ONE
takes the writes, node TWO holds the subscriptions. The records are written with
`read: owner`, and the subscriptions come from as many different users as there are
subscriptions, so each event is checked for every subscriber (the permission code runs
per subscriber and row) but only the writer's own few subscriptions receive it:

1. Memory: RSS of node TWO's processes before and after opening the subscriptions.
2. Delivery: records created at `--rate` per second for `--seconds`, first by this
   process through the create service (its commit returns at a known time: "commit
   end->event" is commit->client), then through node ONE's API (commit happens between the
   POST's send and its response: the true figure lies between the two shown). Five of the
   subscriptions (the writer's, on node TWO) time each event's arrival.
3. Throughput: wrk on node TWO, GET /data/thing/{id} and POST /data/thing, in interleaved
   rounds without and with the subscriptions open (the order alternating from round to
   round); medians and the ratio. The class stays registered for live events between the
   rounds (a registration lasts the journal's retention, events.listeners), so every
   write is journaled in both: the difference is what the subscribers' hubs cost.
4. Webhooks: the worker (`manage.py events_worker`) delivers to a receiver that answers
   503 for `--down` seconds while records are written, then 200: every event must arrive,
   with its id; the time to drain and the duplicates are shown. `--retry-base` is the
   first wait between attempts (the product's default is 10 s, doubling up to an hour; the
   bench's default of 1 s keeps a short run short), `--write-every` the pause between two
   writes while the receiver is down.

The outage as the product meets it, an hour down with the real retry schedule (about two
hours in all, mostly idle):

    .venv/bin/python bench/events_bench.py --webhooks-only --down 3600 --retry-base 10 \
        --write-every 1
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._live import Database, Server  # noqa: E402

WRK_POST = """
wrk.method = "POST"
wrk.body = '{"n": 1, "name": "bench", "permissions": {"read": {"access": "owner"}}}'
wrk.headers["Content-Type"] = "application/json"
"""


def prepare(subscriptions: int) -> dict:
    from accounts.models import ApiSession, ApiUser, Application
    from classes.services import class_create

    app = Application.objects.create(name="events bench")
    class_create(
        application=app,
        name="thing",
        fields=[{"name": "n", "type": "integer"}, {"name": "name", "type": "string"}],
    )
    users = ApiUser.objects.bulk_create(
        ApiUser(application=app, login=f"u{i}", password="!", tags=[])
        for i in range(subscriptions + 1)
    )
    writer, others = users[0], users[1:]
    tokens = [ApiSession.open(application=app, user=u)[1] for u in others]
    writer_token = ApiSession.open(application=app, user=writer)[1]
    return {"app": app, "writer": writer_token, "others": tokens}


def rss_mb(server) -> float:
    import psutil

    root = psutil.Process(server.pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20


def pct(values, p) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


# --- subscriptions ------------------------------------------------------------------------


class Subscriptions:
    """Open SSE connections on one asyncio loop in a thread: quiet ones are only drained,
    measuring ones record when each event (by record name) arrived."""

    def __init__(self, url: str):
        self.host, self.port = url.removeprefix("http://").split(":")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.arrivals: dict[str, list[float]] = {}
        self.writers = []  # transports, to close

    def run(self, coroutine, timeout=600):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _open(self, token: str, measuring: bool) -> None:
        reader, writer = await asyncio.open_connection(self.host, int(self.port))
        writer.write(
            f"GET /data/thing/events?token={token} HTTP/1.1\r\nHost: {self.host}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        status = await reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"subscription refused: {status!r}")
        self.writers.append(writer)
        self.loop.create_task(self._read(reader, measuring))

    async def _read(self, reader, measuring: bool) -> None:
        while line := await reader.readline():
            if measuring and line.startswith(b"data: {"):
                at = time.monotonic()
                # the record's name, found without parsing the JSON: thousands of events a
                # second arrive here, and this process shares the machine with the servers
                marker = line.find(b'"name":')
                if marker > 0:
                    start = line.index(b'"', marker + 7) + 1
                    name = line[start : line.index(b'"', start)].decode()
                    self.arrivals.setdefault(name, []).append(at)

    def open(self, tokens, measuring=False, parallel=50) -> None:
        async def open_all():
            for start in range(0, len(tokens), parallel):
                chunk = tokens[start : start + parallel]
                await asyncio.gather(*(self._open(t, measuring) for t in chunk))

        self.run(open_all())

    def close(self) -> None:
        async def close_all():
            for writer in self.writers:
                writer.close()
            self.writers = []

        self.run(close_all())


# --- phases -------------------------------------------------------------------------------


def write_load(url: str, token: str, rate: int, seconds: int) -> dict:
    """POST records at `rate`/s; answers {name: (sent, answered)} in monotonic seconds."""
    import httpx

    times = {}

    async def one(client, name):
        sent = time.monotonic()
        response = await client.post(
            "/data/thing.json",
            json={"name": name, "permissions": {"read": {"access": "owner"}}},
            headers={"CB-Token": token},
        )
        if response.status_code == 201:
            times[name] = (sent, time.monotonic())

    async def run():
        limits = httpx.Limits(max_connections=32)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
            tasks, start = [], time.monotonic()
            for i in range(rate * seconds):
                await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
                tasks.append(asyncio.create_task(one(client, f"w{i}")))
            await asyncio.gather(*tasks)

    asyncio.run(run())
    return times


def commit_load(app_id: int, rate: int, seconds: int) -> dict:
    """Create records in this process at `rate`/s through the service (one transaction
    each); answers {name: (before the call, after its commit)} in monotonic seconds."""
    from accounts.caller import Caller
    from accounts.models import ApiUser
    from classes.models import ObjectClass
    from records.services import record_create

    klass = ObjectClass.objects.prefetch_related("fields").get(application_id=app_id, name="thing")
    writer = ApiUser.objects.get(application_id=app_id, login="u0")
    caller = Caller.for_user(writer)
    times, start = {}, time.monotonic()
    for i in range(rate * seconds):
        time.sleep(max(0.0, start + i / rate - time.monotonic()))
        name = f"c{i}"
        before = time.monotonic()
        data = {"name": name, "permissions": {"read": {"access": "owner"}}}
        record_create(caller=caller, klass=klass, data=data)
        times[name] = (before, time.monotonic())
    return times


def latencies(subs, times: dict, copies: int) -> tuple[list, list, int]:
    lower, upper, missing = [], [], 0
    for name, (sent, done) in times.items():
        arrivals = subs.arrivals.get(name, [])
        if len(arrivals) < copies:
            missing += 1
        for at in arrivals:
            lower.append((at - done) * 1000)
            upper.append((at - sent) * 1000)
    return lower, upper, missing


def show_latencies(lower, upper, labels) -> None:
    for label, values in zip(labels, (lower, upper), strict=True):
        print(
            f"   {label:18} p50 {pct(values, 50):6.1f} ms  p95 {pct(values, 95):6.1f} ms"
            f"  p99 {pct(values, 99):6.1f} ms"
        )


def wrk(url: str, token: str, *, seconds: int, script: str | None = None) -> float:
    import re
    import shutil

    command = [shutil.which("wrk") or "wrk", "-t1", "-c8", f"-d{seconds}s", "--timeout=10s"]
    command += ["-H", f"CB-Token: {token}"]
    if script:
        command += ["-s", script]
    out = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=seconds + 30, check=True
    ).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        raise RuntimeError(f"wrk saw {non_2xx.group(1)} errors on {url}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def webhooks(database_url: str, workdir: Path, app, write_url: str, token: str, args):
    import httpx

    from events.models import Webhook
    from tests.events.receiver import Receiver

    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "WEBHOOKS_ALLOW_PRIVATE": "1",
        "WEBHOOK_RETRY_BASE_SECONDS": str(args.retry_base),
        "LOG_LEVEL": "ERROR",
    }
    with Receiver(status=503) as receiver:
        Webhook.objects.create(application=app, url=receiver.url)
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "events_worker", "--polling", "0.5"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / "worker.log", "w"),
        )
        try:
            made = set()
            started = time.monotonic()
            with httpx.Client(base_url=write_url, timeout=30) as client:
                while time.monotonic() - started < args.down:
                    r = client.post("/data/thing.json", json={"n": 2}, headers={"CB-Token": token})
                    made.add(r.json()["_id"])
                    time.sleep(args.write_every)
            receiver.status = 200
            back = time.monotonic()
            # The longest wait between two attempts is an hour (events/tasks.py), so every
            # event is retried within that after the receiver is back.
            deadline = back + min(3600, args.retry_base * 2**12) + 120
            while time.monotonic() < deadline:
                got = {b["record"]["_id"] for b in receiver.delivered()}
                if made <= got:
                    break
                time.sleep(0.1)
            drained = time.monotonic() - back
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    delivered = receiver.delivered()
    ids = [b["id"] for b in delivered]
    return {
        "events": len(made),
        "down_s": args.down,
        "attempts_while_down": sum(1 for _, _, s in receiver.received if s == 503),
        "delivered_unique": len({b["record"]["_id"] for b in delivered} & made),
        "duplicates": len(ids) - len(set(ids)),
        "drain_s": drained,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--wrk-seconds", type=int, default=5)
    parser.add_argument("--down", type=int, default=30)
    parser.add_argument("--skip-webhooks", action="store_true")
    parser.add_argument("--webhooks-only", action="store_true")
    parser.add_argument("--retry-base", type=int, default=1)
    parser.add_argument("--write-every", type=float, default=0.05)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="events-bench-") as tmp:
        workdir = Path(tmp)
        database = Database(workdir)
        data = prepare(0 if args.webhooks_only else args.subscriptions)
        env = {"EVENTS_PING_SECONDS": "15"}
        one = Server(database.url, workdir, env=env)
        two = Server(database.url, workdir, env=env)
        try:
            run(args, data, one, two, workdir, database.url)
        finally:
            one.stop()
            two.stop()
            database.stop()


def run(args, data, one, two, workdir, database_url) -> None:
    import httpx

    if args.webhooks_only:
        return webhook_phase(args, data, one, workdir, database_url)
    cpus = os.cpu_count()
    print(f"machine: {cpus} CPUs; each server: {one.process.args[3]}")
    record = httpx.post(
        f"{two.url}/data/thing.json",
        json={"n": 1, "name": "get me"},
        headers={"CB-Token": data["writer"]},
        timeout=30,
    ).json()
    get_url = f"{two.url}/data/thing/{record['_id']}.json"
    post_url = f"{two.url}/data/thing.json"
    script = workdir / "post.lua"
    script.write_text(WRK_POST)
    quiet, measuring = data["others"][5:], [data["writer"]] * 5

    subs = Subscriptions(two.url)
    before = rss_mb(two)
    opened = time.monotonic()
    subs.open(quiet)
    subs.open(measuring, measuring=True)
    opening = time.monotonic() - opened
    time.sleep(2)
    after = rss_mb(two)
    count = len(quiet) + len(measuring)
    print(f"\n1. {count} subscriptions on node TWO, opened in {opening:.1f} s")
    print(f"   RSS of node TWO: {before:.0f} MB before, {after:.0f} MB after")
    print(f"   = {(after - before) * 1024 / count:.1f} KB per subscription")

    cpu = two.cpu_seconds()
    times = commit_load(data["app"].pk, args.rate, args.seconds)
    cpu = (two.cpu_seconds() - cpu) / args.seconds
    time.sleep(1)
    lower, upper, missing = latencies(subs, times, len(measuring))
    achieved = len(times) / args.seconds
    print(f"\n2. commit -> client: another process commits at {achieved:.0f} writes/s")
    print(f"   {len(times)} commits, {len(lower)} arrivals on node TWO, {missing} not seen by all")
    show_latencies(lower, upper, ("commit end->event", "call start->event"))
    print(f"   node TWO's processes used {cpu:.2f} CPU-seconds per second meanwhile")

    times = write_load(one.url, data["writer"], args.rate, args.seconds)
    time.sleep(1)
    lower, upper, missing = latencies(subs, times, len(measuring))
    achieved = len(times) / args.seconds
    print(f"   through node ONE's API at {achieved:.0f} writes/s (commit lies in between):")
    print(f"   {len(times)} writes, {len(lower)} arrivals on node TWO, {missing} not seen by all")
    show_latencies(lower, upper, ("response->event", "send->event"))
    subs.close()
    time.sleep(1)

    print(f"\n3. API throughput on node TWO (wrk, 8 connections, {args.wrk_seconds} s runs)")
    results = {("get", False): [], ("get", True): [], ("post", False): [], ("post", True): []}
    cpu_per_request = {key: [] for key in results}
    client_cpu = {key: [] for key in results}  # this process: reading the subscriptions
    for round_no in range(args.rounds):
        # without/with, then with/without: a machine getting busier or quieter during the
        # run weighs on both sides alike
        for open_subs in (False, True) if round_no % 2 == 0 else (True, False):
            if open_subs:
                subs.open(quiet)
                subs.open(measuring, measuring=True)
                time.sleep(1)
            token = data["writer"]
            for kind, url, lua in (("get", get_url, None), ("post", post_url, str(script))):
                cpu, own = two.cpu_seconds(), time.process_time()
                rps = wrk(url, token, seconds=args.wrk_seconds, script=lua)
                requests = rps * args.wrk_seconds
                cpu_ms = (two.cpu_seconds() - cpu) * 1000 / requests
                results[(kind, open_subs)].append(rps)
                cpu_per_request[(kind, open_subs)].append(cpu_ms)
                client_cpu[(kind, open_subs)].append((time.process_time() - own) * 1000 / requests)
            if open_subs:
                subs.close()
                time.sleep(1)
        print(
            f"   round {round_no + 1}: "
            + ", ".join(
                f"{kind} {'with' if o else 'without'} {v[-1]:.0f}/s"
                for (kind, o), v in results.items()
            )
        )
    for kind in ("get", "post"):
        without = statistics.median(results[(kind, False)])
        with_subs = statistics.median(results[(kind, True)])
        print(
            f"   {kind.upper():4} median without {without:7.0f}/s, with {count} subscriptions"
            f" {with_subs:7.0f}/s: ratio {with_subs / without:.2f}"
        )
        cpu_without = statistics.median(cpu_per_request[(kind, False)])
        cpu_with = statistics.median(cpu_per_request[(kind, True)])
        print(
            f"        node TWO CPU per request: {cpu_without:.2f} ms without, {cpu_with:.2f} ms"
            f" with: ratio {cpu_with / cpu_without:.2f} (steadier than req/s on a busy machine)"
        )
        print(
            "        this benchmark's own CPU per request (reading the subscriptions, on the"
            f" same cores): {statistics.median(client_cpu[(kind, False)]):.2f} ms without,"
            f" {statistics.median(client_cpu[(kind, True)]):.2f} ms with"
        )

    if not args.skip_webhooks:
        webhook_phase(args, data, one, workdir, database_url)


def webhook_phase(args, data, one, workdir, database_url) -> None:
    from accounts.models import Application

    app = Application.objects.get(pk=data["app"].pk)
    print(
        f"\n4. webhooks: first retry after {args.retry_base} s, doubling up to an hour;"
        f" a write every {args.write_every} s while the receiver is down",
        flush=True,
    )
    figures = webhooks(database_url, workdir, app, one.url, data["writer"], args)
    print(f"   receiver answered 503 for {figures['down_s']} s, then 200")
    print(
        f"   {figures['events']} events written while it was down,"
        f" {figures['attempts_while_down']} failed attempts meanwhile;"
        f" {figures['delivered_unique']}/{figures['events']} delivered"
        f" {figures['drain_s']:.1f} s after it came back, {figures['duplicates']} duplicates"
    )


if __name__ == "__main__":
    main()
