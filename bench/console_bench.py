#!/usr/bin/env python
"""The console's record browser on a class of N records (1,000,000 by default).

    .venv/bin/python bench/console_bench.py [--records N] [--rounds R]

Loads the class of bench/records_bench.py (with COPY, into a throwaway embedded PostgreSQL
or the database of DATABASE_URL) and times, in this process through Django's test client
logged in as a console operator, the whole request of three browser pages: the first page,
a filtered page (`n > 990000`, an indexed field, and `name` contains a syllable, not
indexed), and page 1,000; and the requests a filtered page makes once shown, for its total. Rounds are interleaved; the medians and the SQL statements per
request are printed. The test client skips the network and the server process: the
figures are the console's own work (view, queries, template).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from records_bench import database_url, log, prepare, setup_django  # noqa: E402


def pages(app, klass) -> dict[str, dict]:
    return {
        "first page": {},
        "filtered (n > 990000)": {"f": "n", "op": "gt", "v": "990000"},
        "filtered (name contains 'kal')": {"f": "name", "op": "ctn", "v": "kal"},
        "  its total (?total=1, after)": {"f": "name", "op": "ctn", "v": "kal", "total": "1"},
        "  total of n > 990000 (after)": {"f": "n", "op": "gt", "v": "990000", "total": "1"},
        "page 1,000": {"page": "1000"},
        "page 1,000, 100 a page": {"page": "1000", "size": "100"},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("REQUEST_LOG", "0")  # the figures, not a line per request
    with tempfile.TemporaryDirectory(prefix="console-bench-") as tmp:
        workdir = Path(tmp)
        setup_django(database_url(workdir), workdir)
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        data = prepare(args.records, indexed=("n",))
        app, klass = data["app"], data["klass"]
        operator = get_user_model().objects.create_user(
            "bench-operator", password="x" * 12, is_staff=True, is_superuser=True
        )
        client = Client()
        client.force_login(operator)
        url = f"/admin/accounts/application/{app.pk}/custom/{klass.name}/records/"
        times: dict[str, list[float]] = {name: [] for name in pages(app, klass)}
        statements: dict[str, int] = {}
        sql_ms: dict[str, list[float]] = {name: [] for name in times}
        slowest: dict[str, str] = {}
        log(f"{args.rounds} interleaved rounds over {len(times)} pages")
        for round_number in range(args.rounds + 1):  # round 0 warms the caches
            for name, params in pages(app, klass).items():
                with CaptureQueriesContext(connection) as queries:
                    began = time.perf_counter()
                    response = client.get(url, params)
                    elapsed = time.perf_counter() - began
                assert response.status_code == 200, (name, response.status_code)
                assert b'id="record-table"' in response.content or "total" in params
                if round_number:
                    times[name].append(elapsed)
                    sql_ms[name].append(sum(float(q["time"]) for q in queries) * 1000)
                statements[name] = len(queries)
                top = max(queries, key=lambda q: float(q["time"]))
                slowest[name] = f"{float(top['time']) * 1000:.0f} ms: {top['sql'][:150]}"
        print(f"\nrecord browser, {args.records:,} records, median of {args.rounds} rounds")
        print(f"{'page':<34} {'median ms':>10} {'min ms':>8} {'SQL':>4} {'SQL ms':>7}")
        for name, values in times.items():
            median, low = statistics.median(values) * 1000, min(values) * 1000
            in_sql = statistics.median(sql_ms[name])
            print(f"{name:<34} {median:>10.1f} {low:>8.1f} {statements[name]:>4} {in_sql:>7.1f}")
        print("\nslowest statement of each page (last round):")
        for name, text in slowest.items():
            print(f"  {name}: {text}")


if __name__ == "__main__":
    main()
