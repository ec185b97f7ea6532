#!/usr/bin/env python
"""What one write per response saves: a bare ASGI application (bench/_writes_app.py)
served by the production worker class, with the response's head held until its body
(ops.uvicorn_worker.HeadHeld, as served) and with head and body written apart (uvicorn's
way), side by side.

    .venv/bin/python bench/response_writes.py [--rounds 6] [--seconds 5] [--workers 2]

wrk drives both at 8 connections in interleaved rounds; the table shows the medians of
req/s, the servers' CPU per request (from /proc) and the whole machine's (from
/proc/stat: servers, wrk and the kernel). The application does nothing else, so what
differs is the writing alone."""

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._live import bare_server, wrk  # noqa: E402
from bench._writes_app import BODY  # noqa: E402
from ops.server import ServerProcess  # noqa: E402

VARIANTS = {"one write": "1", "head and body apart": "0"}


def machine_busy_seconds() -> float:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def serve(held: str, workers: int, log) -> ServerProcess:
    return bare_server(
        "bench._writes_app:application",
        workers=workers,
        worker_class="ops.uvicorn_worker.Worker",
        env={"HEAD_HELD": held},
        log=log,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    log = tempfile.TemporaryFile()  # the servers' own lines, shown if one fails to start
    servers: dict[str, ServerProcess] = {}
    runs: dict[str, list] = {name: [] for name in VARIANTS}
    try:
        for name, held in VARIANTS.items():
            try:
                servers[name] = serve(held, args.workers, log)
            except RuntimeError:
                log.seek(0)
                sys.stderr.write(log.read().decode(errors="replace"))
                raise
        for round_ in range(args.rounds):
            order = list(VARIANTS) if round_ % 2 == 0 else list(reversed(VARIANTS))
            for name in order:
                server = servers[name]
                cpu, busy = server.cpu_seconds(), machine_busy_seconds()
                result = wrk(server.url + "/", {}, seconds=args.seconds, connections=8)
                done = result["requests"]
                runs[name].append(
                    (
                        result["rps"],
                        (server.cpu_seconds() - cpu) * 1e6 / done,
                        (machine_busy_seconds() - busy) * 1e6 / done,
                    )
                )
    finally:
        for server in servers.values():
            server.stop()
    print(
        f"\na bare ASGI answer of {len(BODY)} bytes, {args.workers} workers, "
        f"wrk -t1 -c8 -d{args.seconds}s, "
        f"medians of {args.rounds} interleaved rounds"
    )
    print(f"{'variant':22}{'req/s':>9}{'server µs/req':>15}{'machine µs/req':>16}")
    for name, rows in runs.items():
        rps, server_us, machine_us = (
            statistics.median(column) for column in zip(*rows, strict=True)
        )
        print(f"{name:22}{rps:9,.0f}{server_us:15.1f}{machine_us:16.1f}")


if __name__ == "__main__":
    main()
