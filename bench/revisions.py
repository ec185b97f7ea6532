#!/usr/bin/env python
"""Two revisions of cubebase side by side: the data plane's five requests, interleaved.

    .venv/bin/python bench/revisions.py BASE [HEAD]
        [--ops get,list,count,create,update] [--connections 1,8]
        [--rounds 4] [--seconds 6] [--records 20000] [--workers N]

BASE and HEAD are git revisions (a commit, a branch, `HEAD~3`); HEAD left out is the
working tree as it is, uncommitted changes included. Each revision other than the working
tree is checked out with `git worktree add --detach` into the scratch folder and removed at
the end.

One embedded PostgreSQL holds a database per revision, each migrated by that revision's
own code and loaded by it with the same records (an application, a class `item` with `n`
Integer indexed, `score` Float, `name` String, `tags` Array, `--records` records owned by
one user, and that user's session). Each revision is served by its own production server
(its own `ops.server.command`, as `make run` serves it), started from its checkout with the
same number of workers.

wrk drives each operation at each number of connections on BASE and HEAD in turn, the
order alternating from round to round, with fresh values in every request: a get of a
random record, a list of 20 over a random `n` range of 1,000 sorted by `n`, the count of
such a range, a create of four fields, an `inc` of `n` on a random record. The table shows
the medians over the rounds (req/s, the server's CPU per request from /proc), HEAD's
req/s over BASE's, and that ratio in each round: on a shared machine a single round moves
more than most changes do, which is why the rounds are interleaved and all of them shown.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._live import Database, wrk  # noqa: E402
from ops.server import ServerProcess, free_port  # noqa: E402

OPS = ("get", "list", "count", "create", "update")

# Run in each checkout (`python -c`, its own Django and models): migrate, load, print the
# session token. Only APIs every revision of the data plane has.
LOAD = """
import json, os, sys
sys.path.insert(0, os.getcwd())
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from accounts.models import ApiSession, ApiUser, Application
from classes.services import class_create, field_set_indexed
from django.db import connection
from records.models import Record
app = Application.objects.create(name="revisions bench")
klass = class_create(application=app, name="item", fields=[
    {"name": "n", "type": "integer"}, {"name": "score", "type": "float"},
    {"name": "name", "type": "string"}, {"name": "tags", "type": "array"}])
user = ApiUser.objects.create(application=app, login="bench", password="!", tags=[])
token = ApiSession.open(application=app, user=user)[1]
records = int(sys.argv[1])
for start in range(0, records, 5000):
    Record.objects.bulk_create([
        Record(id=f"{i:024x}", application_id=app.pk, object_class=klass, user_id=user.pk,
               created_at=1, updated_at=1,
               data={"n": i, "score": i / 3, "name": f"n{i}", "tags": ["a", "b"]})
        for i in range(start, min(records, start + 5000))])
field_set_indexed(field=klass.fields.get(name="n"), indexed=True)
with connection.cursor() as cursor:
    cursor.execute("VACUUM ANALYZE")
print(json.dumps({"token": token}))
"""

COMMAND = """
import json, sys
sys.path.insert(0, ".")
from ops.server import command
print(json.dumps(command("127.0.0.1", int(sys.argv[1]), workers=int(sys.argv[2]))))
"""


def scripts(records: int) -> dict:
    """A Lua script per operation: each request with fresh values."""
    record = f'string.format("%024x", math.random(0, {records - 1}))'
    span = f"math.random(0, {max(records - 1000, 1)})"
    json_body = 'wrk.headers["Content-Type"] = "application/json"\n'
    return {
        "get": f'request = function() return wrk.format("GET", "/data/item/" .. {record}) end',
        "list": (
            f"request = function() local x = {span}\n"
            '  return wrk.format("GET", "/data/item?n[gte]=" .. x .. "&n[lt]=" .. (x + 1000)'
            ' .. "&sort_asc=n&limit=20") end'
        ),
        "count": (
            f"request = function() local x = {span}\n"
            '  return wrk.format("GET", "/data/item?n[gte]=" .. x .. "&n[lt]=" .. (x + 1000)'
            ' .. "&count=1") end'
        ),
        "create": json_body + 'wrk.method = "POST"\n'
        'wrk.body = \'{"n": 1, "score": 2.5, "name": "x", "tags": ["a", "b"]}\'\n'
        'wrk.path = "/data/item"',
        "update": json_body + "request = function() return wrk.format("
        f'"PUT", "/data/item/" .. {record}, nil, \'{{"inc": {{"n": 1}}}}\') end',
    }


def checkout(revision: str, tmp: Path, name: str) -> Path:
    """The working tree for "."; else a detached worktree of `revision` under `tmp`."""
    if revision in (".", ""):
        return ROOT
    path = tmp / name
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(path), revision],
        check=True,
        timeout=120,
    )
    return path


def serve(tree: Path, database_url: str, workers: int, records: int, log) -> tuple:
    """Migrate and load the revision's database with its own code, then start its server."""
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(tree)}
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD, str(records)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if loaded.returncode != 0:
        sys.exit(f"loading {tree} failed:\n{loaded.stderr[-3000:]}")
    token = json.loads(loaded.stdout.strip().splitlines()[-1])["token"]
    port = free_port("127.0.0.1")
    argv = subprocess.run(
        [sys.executable, "-c", COMMAND, str(port), str(workers)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    server = ServerProcess(
        port=port,
        env={"DATABASE_URL": database_url, "PYTHONPATH": str(tree), "LOG_LEVEL": "WARNING"},
        root=tree,
        argv=json.loads(argv),
        stdout=log,
    )
    server.wait_ready()
    return server, token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base", help="the revision to compare against")
    parser.add_argument("head", nargs="?", default=".", help="default: the working tree")
    parser.add_argument("--ops", default=",".join(OPS))
    parser.add_argument("--connections", default="1,8")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) + 1)
    args = parser.parse_args()
    ops = [op for op in args.ops.split(",") if op]
    if unknown := set(ops) - set(OPS):
        sys.exit(f"unknown operations: {', '.join(sorted(unknown))}")
    connections = [int(c) for c in args.connections.split(",")]
    lua = scripts(args.records)

    with tempfile.TemporaryDirectory(prefix="cubebase-revisions-") as scratch:
        tmp = Path(scratch)
        db = Database(tmp)
        import psycopg

        trees, servers = {}, {}
        log = open(tmp / "servers.log", "w")  # noqa: SIM115 - closed below
        try:
            for name, revision in (("BASE", args.base), ("HEAD", args.head)):
                trees[name] = checkout(revision, tmp, name.lower())
                database = f"revision_{name.lower()}"
                with psycopg.connect(db.url, autocommit=True) as conn:
                    conn.execute(f"CREATE DATABASE {database}")
                url = db.url.rsplit("/", 1)[0] + "/" + database
                print(f"{name}: {revision} ({trees[name]}), loading {args.records:,} records")
                servers[name] = serve(trees[name], url, args.workers, args.records, log)
            for op in ops:
                (tmp / f"{op}.lua").write_text(lua[op])
            for server, token in servers.values():  # every worker warm
                for op in ops:
                    wrk(
                        server.url + "/",
                        {"CB-Token": token},
                        seconds=1,
                        connections=8,
                        script=str(tmp / f"{op}.lua"),
                    )
            results: dict = {}
            for round_no in range(args.rounds):
                order = ("BASE", "HEAD") if round_no % 2 == 0 else ("HEAD", "BASE")
                for op in ops:
                    for count in connections:
                        for name in order:
                            server, token = servers[name]
                            before = server.cpu_seconds()
                            out = wrk(
                                server.url + "/",
                                {"CB-Token": token},
                                seconds=args.seconds,
                                connections=count,
                                script=str(tmp / f"{op}.lua"),
                            )
                            out["cpu_ms"] = (
                                (server.cpu_seconds() - before) * 1000 / max(out["requests"], 1)
                            )
                            results.setdefault((op, count, name), []).append(out)
                print(f"round {round_no + 1}/{args.rounds} done", flush=True)
        finally:
            for server, _ in servers.values():
                server.stop()
            log.close()
            for tree in trees.values():
                if tree != ROOT:
                    subprocess.run(
                        ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                        timeout=120,
                    )
            db.stop()

    print(
        f"\nBASE {args.base}, HEAD {args.head}; {args.workers} workers each, wrk -t1"
        f" -d{args.seconds}s, medians of {args.rounds} interleaved rounds,"
        f" {args.records:,} records, {os.cpu_count()} CPUs shared with wrk and PostgreSQL"
    )
    print(
        f"{'op':<7} {'conn':>4} {'BASE req/s':>10} {'HEAD req/s':>10} {'HEAD/BASE':>9}"
        f" {'BASE cpu ms':>11} {'HEAD cpu ms':>11} {'non-2xx':>8}  HEAD/BASE each round"
    )
    for op in ops:
        for count in connections:
            base, head = results[(op, count, "BASE")], results[(op, count, "HEAD")]

            def median(runs, key):
                return statistics.median(r[key] for r in runs)

            bad = sum(r["non_2xx"] for r in base + head)
            rounds = " ".join(f"{h['rps'] / b['rps']:.2f}" for b, h in zip(base, head, strict=True))
            print(
                f"{op:<7} {count:>4} {median(base, 'rps'):>10.0f} {median(head, 'rps'):>10.0f}"
                f" {median(head, 'rps') / median(base, 'rps'):>9.2f}"
                f" {median(base, 'cpu_ms'):>11.3f} {median(head, 'cpu_ms'):>11.3f} {bad:>8}"
                f"  {rounds}"
            )


if __name__ == "__main__":
    main()
