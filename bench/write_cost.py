"""What a write costs PostgreSQL: the API's own INSERT and in-place UPDATE, taken apart.

    .venv/bin/python bench/write_cost.py [--records 100000] [--rounds 5] [--statements 300]

It loads bench/peers.py's class (`n` Integer, indexed; `score`, `name`, `tags`) and its
records, then sends one create and one `{"inc": {"n": 1}}` update through the API,
recording the exact statements (text and parameters) the records module sends for them.
Then it runs each of those statements again and again under `EXPLAIN (ANALYZE)`, each in
its own transaction with its commit (a fresh id for every insert, a random record for
every update), and prints where PostgreSQL's time went: the statement's own work (the row
and its index entries), each trigger (the events journal, the class's foreign key), and
the whole execution; and the WAL each statement writes with its commit. The class is
registered as listened to, so every write is journaled (a class nobody subscribes to is
not: bench/write_rate.py compares the two). The same is
measured with the journal's triggers disabled, in the same rounds, interleaved, so its
share can be read off side by side. Medians of the rounds' means.

EXPLAIN ANALYZE times every plan node, which adds a little to every figure; the parts are
comparable with each other, and the "execution" row with what pg_stat_statements reports
under load only roughly. Planning is left out: the server prepares these statements.
DATABASE_URL, if set, is used instead of a private embedded PostgreSQL (the tables are
created in it: give it an empty database).
"""

import argparse
import collections
import contextlib
import json
import random
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._live import Database  # noqa: E402
from bench.peers import load_items  # noqa: E402

JOURNAL_TRIGGERS = ("events_journal_insert", "events_journal_update")


def load(count: int) -> dict:
    """bench/peers.py's application, user, session, class and `count` records, analysed;
    the class listened to, so that its writes are journaled (events.listeners)."""
    from django.db import connection

    from classes.models import ObjectClass

    token, ids = load_items(count, "write cost")
    listened(ObjectClass.objects.get(application__name="write cost", name="item").pk)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE records_record")
    return {"token": token, "ids": ids}


def listened(class_id: int) -> None:
    """Register the class for good, so that every write of it is journaled."""
    from events.models import Listener

    Listener.objects.update_or_create(
        object_class_id=class_id, defaults={"until": 9 * 10**18, "since": 0}
    )


@contextlib.contextmanager
def statements_sent():
    """[(sql, params)] of every statement sent on Django's connection inside the block."""
    from django.db import connection

    sent = []

    def capture(execute, sql, params, many, context):
        sent.append((sql, list(params or ())))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        yield sent


def api_statements(token: str, record_id: str) -> dict:
    """The INSERT of a create and the UPDATE of an `inc`, as the API sends them, with the
    position of the record's id among their parameters."""
    from django.test import Client

    client = Client(headers={"CB-Token": token})
    body = {"n": 7, "score": 2.5, "name": "written", "tags": ["a", "b"]}
    with statements_sent() as sent:
        created = client.post("/data/item", body, content_type="application/json")
        updated = client.put(
            f"/data/item/{record_id}", {"inc": {"n": 1}}, content_type="application/json"
        )
    if created.status_code != 201 or updated.status_code != 200:
        raise SystemExit(f"the API answered {created.status_code} and {updated.status_code}")
    found = {}
    for sql, params in sent:
        if sql.startswith("INSERT INTO records_record"):
            found["create"] = (sql, params, params.index(created.json()["_id"]))
        elif sql.startswith('UPDATE "records_record" SET "data"'):
            found["update"] = (sql, params, params.index(record_id))
    if set(found) != {"create", "update"}:
        raise SystemExit(f"not the statements expected: {[s[:60] for s, _ in sent]}")
    return found


def explain(cursor, sql: str, params: list) -> dict:
    """One execution's parts in µs."""
    cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
    plan = cursor.fetchone()[0]
    plan = (json.loads(plan) if isinstance(plan, str) else plan)[0]
    if plan["Plan"]["Actual Rows"] != 1:
        raise SystemExit(f"a statement wrote {plan['Plan']['Actual Rows']} rows, not 1")
    parts = {"the statement (row, index entries)": plan["Plan"]["Actual Total Time"]}
    for trigger in plan.get("Triggers", []):
        name = trigger["Trigger Name"]
        if name.startswith("RI_ConstraintTrigger"):
            name = "foreign key of the class"
        parts[f"trigger: {name}"] = parts.get(f"trigger: {name}", 0) + trigger["Time"]
    parts["execution, all"] = plan["Execution Time"]
    return {part: ms * 1000 for part, ms in parts.items()}


def wal_position(cursor) -> int:
    cursor.execute("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn")
    return int(cursor.fetchone()[0])


def measure(statement, ids: list, count: int, rng: random.Random) -> dict:
    """Means over `count` executions, each committed on its own."""
    from django.db import connection

    from records.ids import new_object_id

    sql, params, at = statement
    totals: dict = collections.defaultdict(float)
    with connection.cursor() as cursor:
        start = wal_position(cursor)
        for _ in range(count):
            params[at] = new_object_id() if sql.startswith("INSERT") else rng.choice(ids)
            for part, us in explain(cursor, sql, params).items():
                totals[part] += us
        totals["WAL bytes, commit included"] = wal_position(cursor) - start
    return {part: total / count for part, total in totals.items()}


def journal(enabled: bool) -> None:
    from django.db import connection

    verb = "ENABLE" if enabled else "DISABLE"
    with connection.cursor() as cursor:
        for trigger in JOURNAL_TRIGGERS:
            cursor.execute(f"ALTER TABLE records_record {verb} TRIGGER {trigger}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--statements", type=int, default=300, help="per round and variant")
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="write-cost-") as tmp:
        database = Database(Path(tmp))
        try:
            loaded = load(args.records)
            statements = api_statements(loaded["token"], loaded["ids"][0])
            variants = {"as served": True, "journal off": False}
            results: dict = collections.defaultdict(list)
            for number in range(args.rounds):
                order = list(variants) if number % 2 == 0 else list(reversed(variants))
                for variant in order:
                    journal(variants[variant])
                    for op, statement in statements.items():
                        figures = measure(statement, loaded["ids"], args.statements, rng)
                        results[(op, variant)].append(figures)
                print(f"round {number + 1} of {args.rounds}", file=sys.stderr, flush=True)
        finally:
            journal(True)  # never left off, even when a run is cut short
            database.stop()
    print(
        f"\nwhat the API's writes cost PostgreSQL: {args.records:,} records, {args.rounds}"
        f" rounds of {args.statements} statements per variant, medians of the rounds' means"
    )
    print(f"{'write':<7} {'part':<48} {'as served':>10} {'journal off':>12}")
    for op in statements:
        parts = list(dict.fromkeys(p for r in results[(op, "as served")] for p in r))
        for part in parts:
            cells = []
            for variant in variants:
                values = [r[part] for r in results[(op, variant)] if part in r]
                unit = "" if part.startswith("WAL") else " µs"
                cells.append(f"{statistics.median(values):,.1f}{unit}" if values else "-")
            print(f"{op:<7} {part:<48} {cells[0]:>10} {cells[1]:>12}")


if __name__ == "__main__":
    main()
