#!/usr/bin/env python
"""Serving benchmark: the production server over HTTP, driven by wrk.

    .venv/bin/python bench/serving_bench.py [--servers uvicorn,gunicorn-asgi,granian,gthread,uvicorn:stock]
                                            [--seconds 5] [--rounds 3] [--connections 16]
    .venv/bin/python bench/serving_bench.py --variants "ASGI_THREADS=4;ASGI_THREADS=2" \
                                            [--workers 3] [--connections 8] [--rounds 6]

Starts a throwaway embedded PostgreSQL with one application, one class and one record,
then each server of `--servers` (ops/server.py builds their command lines; `uvicorn` is
the one `make run` uses; `uvicorn:stock` is it with Django's own ASGI handler, last because
it leaves database connections behind) with the same number of workers. Rounds are interleaved: every
round runs every server on every endpoint, and the table shows medians over the rounds.
Two endpoints: `GET /health/live` (the request path with no database work) and
`GET /data/{class}/{id}` (session check, class lookup, one record read).

CPU per request is read from /proc (utime + stime of the server's processes, master and
workers) before and after each run, so it counts the server only, not wrk.

`--variants` compares settings instead of servers: `make run`'s server once per variant
(environment assignments, `;` between variants, `,` within one), on a GET of a record and
a POST creating one, in interleaved rounds with the order alternating; it prints the
medians, each variant's ratio to the first, and how wrk's connections were spread over
the workers in each round (counted from /proc half-way through the run: "0/2/6" is eight
connections on two of three workers).
"""

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._live import Database, Server, wrk  # noqa: E402


def prepare() -> dict:
    """An application, a class readable by everyone in it, one record, and a user's
    session token (the POSTs of `--variants` create records as that user)."""
    from accounts.caller import Caller
    from accounts.models import ApiSession, ApiUser, Application
    from classes.services import class_create
    from records.services import record_create

    app = Application.objects.create(name="serving bench")
    klass = class_create(
        application=app,
        name="thing",
        fields=[{"name": "n", "type": "integer"}, {"name": "name", "type": "string"}],
        permissions={"read": {"access": "open", "use_class_permissions": True}},
    )
    record = record_create(caller=Caller.admin(app), klass=klass, data={"n": 1, "name": "one"})
    user = ApiUser.objects.create(application=app, login="bench", password="!", tags=[])
    _, token = ApiSession.open(application=app, user=user)
    return {"record_path": f"/data/thing/{record.pk}", "token": token}


def start(label: str, database_url: str, workdir: Path, workers: int) -> Server:
    """`kind` or `kind:stock` (Django's own ASGI handler, a thread per request)."""
    kind, _, variant = label.partition(":")
    env = {"ASGI_THREADS": "0"} if variant == "stock" else {}
    return Server(database_url, workdir, kind=kind, workers=workers, env=env)


def nodes_run(args, db, ctx, tmp: Path) -> None:
    """`--nodes N`: one node, then N nodes side by side (as N machines would be, each with
    its own workers), wrk driving each node at once; interleaved rounds, medians."""
    import threading

    single = Server(db.url, tmp, workers=args.workers)
    many = [Server(db.url, tmp, workers=args.workers) for _ in range(args.nodes)]
    headers = {"CB-Token": ctx["token"]}
    rows = {"1 node": [], f"{args.nodes} nodes": []}
    try:
        for server in [single, *many]:
            wrk(server.url + ctx["record_path"], headers, seconds=1, connections=8)
        for _ in range(args.rounds):
            for label, group in (("1 node", [single]), (f"{args.nodes} nodes", many)):
                outs = [None] * len(group)

                def drive(i, server, outs=outs):
                    outs[i] = wrk(
                        server.url + ctx["record_path"],
                        headers,
                        seconds=args.seconds,
                        connections=args.connections,
                    )

                threads = [threading.Thread(target=drive, args=(i, s)) for i, s in enumerate(group)]
                before = sum(s.cpu_seconds() for s in group)
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(timeout=args.seconds + 60)
                cpu = sum(s.cpu_seconds() for s in group) - before
                requests = sum(o["requests"] for o in outs)
                rows[label].append(
                    {
                        "rps": sum(o["rps"] for o in outs),
                        "p50": max(o["p50"] for o in outs),
                        "p99": max(o["p99"] for o in outs),
                        "cpu_ms": cpu * 1000 / max(requests, 1),
                        "non_2xx": sum(o["non_2xx"] for o in outs),
                    }
                )
    finally:
        for server in [single, *many]:
            server.stop()
    print(
        f"\nGET /data/{{class}}/{{id}}; {args.workers} workers per node; wrk -t1 "
        f"-c{args.connections} -d{args.seconds}s per node; medians of {args.rounds} rounds; "
        f"{os.cpu_count()} CPUs for everything (nodes, PostgreSQL, wrk)"
    )
    print(f"{'':<10} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'CPU ms/req':>10} {'non-2xx':>8}")
    for label, runs in rows.items():
        med = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99", "cpu_ms")}
        print(
            f"{label:<10} {med['rps']:>8.0f} {med['p50']:>7.1f} {med['p99']:>7.1f}"
            f" {med['cpu_ms']:>10.2f} {sum(r['non_2xx'] for r in runs):>8}"
        )


POST_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"n": 1, "name": "bench"}'
wrk.headers["Content-Type"] = "application/json"
"""


def spread(server):
    """A function of wrk's pid: how many of its connections each worker of `server` holds."""
    import psutil

    def count(wrk_pid: int) -> str:
        ports = {c.laddr.port for c in psutil.Process(wrk_pid).net_connections("tcp")}
        return "/".join(str(n) for n in server.connections_per_worker(ports))

    return count


def variants_run(args, db, ctx, tmp: Path) -> None:
    """`--variants`: the same server under different settings, side by side."""
    variants = [v.strip() for v in args.variants.split(";") if v.strip()]
    servers = {
        v: Server(
            db.url, tmp, workers=args.workers, env=dict(a.split("=", 1) for a in v.split(","))
        )
        for v in variants
    }
    script = tmp / "post.lua"
    script.write_text(POST_SCRIPT)
    headers = {"CB-Token": ctx["token"]}
    ops = {"GET": (ctx["record_path"], None), "POST": ("/data/thing", str(script))}
    results = {(v, op): [] for v in variants for op in ops}
    try:
        for server in servers.values():  # every worker started and warm
            wrk(server.url + ctx["record_path"], headers, seconds=2, connections=args.connections)
        for round_no in range(args.rounds):
            order = variants if round_no % 2 == 0 else variants[::-1]
            for variant in order:
                server = servers[variant]
                for op, (path, lua) in ops.items():
                    before = server.cpu_seconds()
                    out = wrk(
                        server.url + path,
                        headers,
                        seconds=args.seconds,
                        connections=args.connections,
                        script=lua,
                        during=spread(server),
                    )
                    out["cpu_ms"] = (server.cpu_seconds() - before) * 1000 / max(out["requests"], 1)
                    results[(variant, op)].append(out)
            print(f"round {round_no + 1}/{args.rounds} done", flush=True)
    finally:
        for server in servers.values():
            server.stop()
    print(
        f"\n{args.workers} workers, wrk -t1 -c{args.connections} -d{args.seconds}s, medians of"
        f" {args.rounds} interleaved rounds, {os.cpu_count()} CPUs shared with wrk and PostgreSQL"
    )
    print(
        f"{'variant':<30} {'op':<5} {'req/s':>8} {'ratio':>6} {'CPU ms/req':>10} {'non-2xx':>8}"
        "  connections per worker, each round"
    )
    for op in ops:
        first = statistics.median(r["rps"] for r in results[(variants[0], op)])
        for variant in variants:
            runs = results[(variant, op)]
            rps = statistics.median(r["rps"] for r in runs)
            cpu = statistics.median(r["cpu_ms"] for r in runs)
            bad = sum(r["non_2xx"] for r in runs)
            spreads = " ".join(r["during"] for r in runs)
            print(
                f"{variant:<30} {op:<5} {rps:>8.0f} {rps / first:>6.2f} {cpu:>10.2f} {bad:>8}"
                f"  {spreads}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default="uvicorn,gunicorn-asgi,granian,gthread,uvicorn:stock")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) + 1)
    parser.add_argument("--nodes", type=int, default=0, help="compare 1 node with N nodes")
    parser.add_argument(
        "--variants", default="", help='settings to compare, e.g. "ASGI_THREADS=4;ASGI_THREADS=2"'
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cubebase-bench-") as tmp:
        db = Database(Path(tmp))
        ctx = prepare()
        if args.nodes or args.variants:
            try:
                run = nodes_run if args.nodes else variants_run
                return run(args, db, ctx, Path(tmp))
            finally:
                db.stop()
        kinds = args.servers.split(",")
        servers = {k: start(k, db.url, Path(tmp), args.workers) for k in kinds}
        endpoints = {"/health/live": {}, "GET /data/{class}/{id}": {"CB-Token": ctx["token"]}}
        paths = {"/health/live": "/health/live", "GET /data/{class}/{id}": ctx["record_path"]}
        results = {(k, e): [] for k in kinds for e in endpoints}
        try:
            for server in servers.values():  # warm every worker and its connection
                for name, headers in endpoints.items():
                    wrk(server.url + paths[name], headers, seconds=1, connections=8)
            for round_no in range(args.rounds):
                for name, headers in endpoints.items():
                    for kind, server in servers.items():
                        before = server.cpu_seconds()
                        out = wrk(
                            server.url + paths[name],
                            headers,
                            seconds=args.seconds,
                            connections=args.connections,
                        )
                        cpu = server.cpu_seconds() - before
                        out["cpu_ms"] = cpu * 1000 / max(out["requests"], 1)
                        results[(kind, name)].append(out)
                print(f"round {round_no + 1}/{args.rounds} done", flush=True)
        finally:
            for server in servers.values():
                server.stop()
            db.stop()

    print(
        f"\n{args.workers} workers, wrk -t1 -c{args.connections} -d{args.seconds}s, "
        f"medians of {args.rounds} interleaved rounds, {os.cpu_count()} CPUs shared with wrk"
    )
    print(
        f"{'server':<15} {'endpoint':<24} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'CPU ms/req':>10} {'non-2xx':>8}"
    )
    for (kind, name), runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99", "cpu_ms")}
        bad = sum(r["non_2xx"] for r in runs)
        print(
            f"{kind:<15} {name:<24} {med['rps']:>8.0f} {med['p50']:>7.1f} {med['p99']:>7.1f}"
            f" {med['cpu_ms']:>10.2f} {bad:>8}"
        )


if __name__ == "__main__":
    main()
