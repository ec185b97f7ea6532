"""How fast could the busy requests be served without Django? Two floors beside the server.

    .venv/bin/python bench/async_floor.py [--records 100000] [--rounds 3] [--seconds 8]

cubebase answers every request in a pooled thread with Django's synchronous database
connection (config/asgi.py, config/lane.py). This measures what that design costs against
two floors: bench/_floor_app.py, an ASGI application on the same gunicorn and uvicorn, that
sends the very statements cubebase sends for a create, an `inc` update and a list (taken
from the API while it answers them, with their parameters) and does nothing else: no
validation, no permission gate, no Django, no log line, no metrics. The "thread floor"
sends them as cubebase does, from a pool of threads with a synchronous psycopg connection
each; the "loop floor" from the event loop, on an asynchronous psycopg pool. The three run
with the same number of workers on one PostgreSQL; wrk drives each operation at 1 and 8
connections, the servers in turn, the order rotating by round; medians.

The floors are not servers anyone could ship. cubebase against the thread floor is what
Django and cubebase's own checks cost; the thread floor against the loop floor is what
the hop to a thread costs; an event-loop design would pay the checks on top of the loop
floor.
"""

import argparse
import json
import random
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import write_cost  # noqa: E402
from bench._live import Database, Server, bare_server, wrk  # noqa: E402

LIST_PATH = "/data/item?n[gte]=100000&n[lt]=110000&sort_asc=n&limit=20"
OPERATIONS = ("create", "update", "list")
BODY = '{"n":1,"score":2.5,"name":"x","tags":["a","b"]}'


def list_statement(token: str) -> tuple[str, list, int]:
    """The page statement the API sends for LIST_PATH, and how many records it answered."""
    from django.test import Client

    with write_cost.statements_sent() as sent:
        answer = Client(headers={"CB-Token": token}).get(LIST_PATH)
    if answer.status_code != 200:
        raise SystemExit(f"the list answered {answer.status_code}")
    sql, params = next((s, p) for s, p in sent if s.startswith("SELECT") and "records_record" in s)
    return sql, params, len(answer.json()["items"])


def plan(token: str, ids: list) -> dict:
    from accounts.selectors import session_sql
    from records.query import rows

    statements = write_cost.api_statements(token, ids[0])
    create_sql, create_params, fresh = statements["create"]
    update_sql, update_params, at = statements["update"]
    list_sql, list_params, listed = list_statement(token)
    return {
        "session": session_sql(lean=True),
        "requests": {
            "POST /data/item": {
                "sql": create_sql,
                "params": create_params,
                "fresh": fresh,
                "body": rows._ATTNAMES.index("data"),
                "path_id": None,
            },
            "PUT /data/item/*": {
                "sql": update_sql,
                "params": update_params,
                "fresh": None,
                "body": None,
                "path_id": at,
            },
            "GET /data/item": {
                "sql": list_sql,
                "params": list_params,
                "fresh": None,
                "body": None,
                "path_id": None,
            },
        },
        "listed": listed,
    }


def scripts(workdir: Path, ids: list) -> dict:
    picks = ", ".join(f'"{i}"' for i in random.Random(3).sample(ids, min(len(ids), 2000)))
    header = 'wrk.headers["Content-Type"] = "application/json"\n'
    update = workdir / "update.lua"
    update.write_text(
        f"{header}local ids = {{{picks}}}\n"
        "request = function()\n"
        '  return wrk.format("PUT", "/data/item/" .. ids[math.random(#ids)], nil,'
        ' \'{"inc":{"n":1}}\')\n'
        "end\n"
    )
    create = workdir / "create.lua"
    create.write_text(f"{header}wrk.method = \"POST\"\nwrk.body = '{BODY}'\n")
    return {
        "create": ("/data/item", str(create)),
        "update": ("/data/item", str(update)),
        "list": (LIST_PATH, None),
    }


def floor_server(workdir: Path, database_url: str, workers: int, floor_plan: dict, mode: str):
    log = open(workdir / f"floor-{mode}.log", "w")  # noqa: SIM115 - closed by the caller
    env = {"DATABASE_URL": database_url, "FLOOR_PLAN": json.dumps(floor_plan), "FLOOR_MODE": mode}
    server = bare_server(
        "bench._floor_app:application",
        workers=workers,
        worker_class="uvicorn.workers.UvicornWorker",
        env=env,
        log=log,
    )
    return server, log


def check(floor, token: str, ids: list, listed: int) -> None:
    """The floor's statements find what cubebase's do: one record created, one updated, a
    page as long as cubebase's; else the comparison would be with a floor that does nothing."""
    import urllib.request

    calls = [
        ("POST", "/data/item", BODY.encode(), 1),
        ("PUT", f"/data/item/{ids[1]}", b'{"inc":{"n":1}}', 1),
        ("GET", LIST_PATH, None, listed),
    ]
    for method, path, body, expected in calls:
        request = urllib.request.Request(
            floor.url + path, data=body, method=method, headers={"CB-Token": token}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            found = len(json.loads(answer.read())["items"])
        if found != expected:
            raise SystemExit(f"the floor's {method} {path} found {found} rows, not {expected}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--workers", type=int, default=None, help="default: as make run")
    args = parser.parse_args()
    from ops.server import worker_count

    workers = args.workers or worker_count()
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="async-floor-") as tmp:
        workdir = Path(tmp)
        database = Database(workdir)
        servers, logs = {}, []
        try:
            loaded = write_cost.load(args.records)
            floor_plan = plan(loaded["token"], loaded["ids"])
            from django.db import connection

            connection.close()
            servers["cubebase"] = Server(database.url, workdir, workers=workers)
            for mode in ("thread", "loop"):
                server, log = floor_server(workdir, database.url, workers, floor_plan, mode)
                servers[f"{mode} floor"] = server
                logs.append(log)
                check(server, loaded["token"], loaded["ids"], floor_plan["listed"])
            headers = {"CB-Token": loaded["token"]}
            for number in range(args.rounds):
                order = list(servers)[number % 3 :] + list(servers)[: number % 3]
                for op, (path, script) in scripts(workdir, loaded["ids"]).items():
                    for connections in (1, 8):
                        for name in order:
                            server = servers[name]
                            before = server.cpu_seconds()
                            figures = wrk(
                                server.url + path,
                                headers,
                                seconds=args.seconds,
                                connections=connections,
                                script=script,
                            )
                            cpu = server.cpu_seconds() - before
                            figures["cpu"] = cpu * 1000 / max(figures["requests"], 1)
                            results.setdefault((op, connections, name), []).append(figures)
                print(f"round {number + 1} of {args.rounds}", file=sys.stderr, flush=True)
        finally:
            for server in servers.values():
                server.stop()
            for log in logs:
                log.close()
            database.stop()
    print(
        f"\ntwo floors beside cubebase: {args.records:,} records, {workers} workers"
        f" each, {args.rounds} interleaved rounds of {args.seconds} s, medians"
    )
    print(f"{'operation':<9} {'conn':>4} {'server':<12} {'req/s':>7} {'p50 ms':>7}", end="")
    print(f" {'non2xx':>6} {'cpu ms/req':>10} {'x cubebase':>10}")
    names = ("cubebase", "thread floor", "loop floor")
    rows = [(op, c, name) for c in (1, 8) for op in OPERATIONS for name in names]
    for op, connections, name in rows:
        runs = results[(op, connections, name)]
        rps = statistics.median(r["rps"] for r in runs)
        ours = statistics.median(r["rps"] for r in results[(op, connections, "cubebase")])
        ratio = f"{rps / ours:.2f}" if name != "cubebase" else ""
        print(
            f"{op:<9} {connections:>4} {name:<12} {rps:>7,.0f}"
            f" {statistics.median(r['p50'] for r in runs):>7.2f}"
            f" {sum(r['non_2xx'] for r in runs):>6}"
            f" {statistics.median(r['cpu'] for r in runs):>10.3f} {ratio:>10}"
        )


if __name__ == "__main__":
    main()
