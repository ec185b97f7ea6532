"""Import benchmark: the import_records command against a raw COPY of the same rows.

    .venv/bin/python bench/import_bench.py [--rows N] [--batch-size N] [--workers N]

Generates an N-row CSV (default 1,000,000) for a class with Integer, Float, String, Boolean,
Array, Location and Date fields, imports it with `manage.py import_records` in a child
process (whose peak RSS is read from wait4), saves the imported rows with `COPY ... TO`,
deletes them, and times a raw psycopg `COPY ... FROM STDIN` of exactly those rows into the
same table. Prints rows/s of both, their ratio, and the importer's peak memory.

Uses its own throwaway embedded PostgreSQL unless DATABASE_URL is set (then it works in a
class of its own and deletes it at the end).
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIELDS = [
    ("n", "integer"),
    ("score", "float"),
    ("label", "string"),
    ("active", "boolean"),
    ("tags", "array"),
    ("place", "location"),
    ("day", "date"),
]
# Dates drawn at random to the second over a year: nearly every one differs, so the per-column
# cache of Date cells gains nothing here (the worst case for the importer).
EPOCH_2024, EPOCH_2025 = 1_704_067_200, 1_735_689_600
OWN_DATABASE = False
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]


def database_url() -> str:
    """DATABASE_URL, or a throwaway embedded server's socket URL (shared with the child)."""
    global OWN_DATABASE
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    OWN_DATABASE = True
    from config import embedded_db

    db = embedded_db.start_throwaway()
    return f"postgresql://{db['USER']}@/{db['NAME']}?host={db['HOST']}"


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "bench")
    import django

    django.setup()


def write_csv(path: Path, rows: int) -> None:
    rng = random.Random(6)
    with path.open("w", encoding="utf-8") as out:
        out.write(",".join(name for name, _ in FIELDS) + "\n")
        for i in range(rows):
            words = rng.sample(WORDS, 3)
            out.write(
                f"{i},{rng.uniform(-1e6, 1e6):.4f},{words[0]} {i} ü,"
                f'{"true" if i % 2 else "false"},"{words[1]},{words[2]}",'
                f'"{rng.uniform(-180, 180):.5f},{rng.uniform(-90, 90):.5f}",'
                f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(rng.randrange(EPOCH_2024, EPOCH_2025)))}\n"
            )


def make_class():
    from accounts.models import ApiUser, Application
    from classes.models import Field, ObjectClass

    app = Application.objects.create(name="import bench")
    user = ApiUser.objects.create(application=app, login="bench", password="!")
    klass = ObjectClass.objects.create(application=app, name="bench")
    for position, (name, kind) in enumerate(FIELDS):
        Field.objects.create(object_class=klass, name=name, type=kind, position=position)
    return app, user, klass


def run_import(
    app, user, path: Path, batch_size: int, workers: int
) -> tuple[float, int, float, str]:
    """The real command path in a child process: (seconds, peak RSS bytes, CPU seconds,
    summary)."""
    argv = [sys.executable, str(ROOT / "manage.py"), "import_records", str(app.pk), "bench"]
    argv += [str(path), "--owner", str(user.pk), "--batch-size", str(batch_size)]
    argv += ["--workers", str(workers)]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        child = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.monotonic() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        summary = out.read().decode().strip()
        if child.returncode != 0:
            sys.exit(f"import failed ({child.returncode}):\n{summary}\n{err.read().decode()}")
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, usage.ru_maxrss * 1024, cpu, summary  # ru_maxrss is in KiB on Linux


def raw_copy(klass, dump: Path) -> float:
    """Save the imported rows, delete them, and time a plain COPY of the same rows back."""
    from django.db import connection

    from records.importing.writer import HEAD, _tail

    columns = ", ".join([*HEAD, *_tail(klass)[0]])
    table = "records_record"
    connection.ensure_connection()
    raw = connection.connection
    raw.autocommit = True
    with raw.cursor() as cur, dump.open("wb") as out:
        query = f"COPY (SELECT {columns} FROM {table} WHERE object_class_id = %s) TO STDOUT"
        with cur.copy(query, [klass.pk]) as copy:
            for block in copy:
                out.write(block)
        if OWN_DATABASE:  # the same empty table the importer started from
            cur.execute(f"TRUNCATE {table}")
        else:  # a shared database: remove only this benchmark's rows
            cur.execute(f"DELETE FROM {table} WHERE object_class_id = %s", [klass.pk])
            cur.execute(f"VACUUM {table}")
    started = time.monotonic()
    with raw.transaction(), raw.cursor() as cur, dump.open("rb") as source:
        with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            while block := source.read(1 << 20):
                copy.write(block)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1, help="import_records --workers")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="import-bench-") as folder:
        tmp = Path(folder)
        setup_django(database_url())
        from django.core.management import call_command

        from records.models import Record

        call_command("migrate", verbosity=0)
        app, user, klass = make_class()
        path = tmp / "bench.csv"
        started = time.monotonic()
        write_csv(path, args.rows)
        size = path.stat().st_size
        print(
            f"generated {args.rows:,} rows ({size / 2**20:,.1f} MiB) in "
            f"{time.monotonic() - started:.1f}s"
        )

        seconds, peak, cpu, summary = run_import(app, user, path, args.batch_size, args.workers)
        imported = Record.objects.filter(object_class=klass).count()
        if imported != args.rows:
            sys.exit(f"expected {args.rows} records, found {imported}")
        print(f"importer : {summary}")
        copy_seconds = raw_copy(klass, tmp / "rows.copy")
        if Record.objects.filter(object_class=klass).count() != args.rows:
            sys.exit("the raw COPY did not load every row")
        importer_rate, copy_rate = args.rows / seconds, args.rows / copy_seconds
        print(
            f"import_records : {seconds:6.2f} s  {importer_rate:>10,.0f} rows/s "
            "(whole command, start-up included)"
        )
        print(f"raw COPY       : {copy_seconds:6.2f} s  {copy_rate:>10,.0f} rows/s")
        print(f"ratio          : {importer_rate / copy_rate:.2f} of raw COPY")
        print(
            f"importer CPU   : {cpu:6.2f} s  ({cpu / args.rows * 1e6:.1f} µs a row, user + system)"
        )
        print(f"load average   : {os.getloadavg()[0]:.2f} (on {os.cpu_count()} cores)")
        print(f"peak memory    : {peak / 2**20:,.0f} MiB (importer process, max RSS)")
        app.delete()


if __name__ == "__main__":
    main()
