"""`manage.py serve` (what `make run` ends with) stops cleanly, and stops the embedded
PostgreSQL, however it is told to: SIGTERM to its whole process group (what a terminal's
job control, `timeout` or a container runtime sends), or Ctrl-C's SIGINT."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ops.server import free_port

ROOT = Path(__file__).resolve().parents[2]


def start_serve(data_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MEDIA_ROOT")}
    env.update(DATA_DIR=str(data_dir), WEB_CONCURRENCY="2")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, as `make run` has in a terminal
    )
    url = f"http://127.0.0.1:{port}/health"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "serve exited early"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError("serve did not answer within 60 s")


def stopped(pgdata: Path, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not (pgdata / "postmaster.pid").exists():
            return True
        time.sleep(0.2)
    return False


def test_signals_to_the_process_group_stop_the_server_and_the_database(tmp_path):
    pgdata = tmp_path / "pgdata"
    for signum in (signal.SIGTERM, signal.SIGTERM, signal.SIGINT):
        proc, url = start_serve(tmp_path)
        assert (pgdata / "postmaster.pid").exists()
        os.killpg(proc.pid, signum)
        try:
            assert proc.wait(timeout=40) == 0
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        assert stopped(pgdata), f"PostgreSQL still running after {signum!r}"
        try:
            urllib.request.urlopen(url, timeout=2)
            raise AssertionError("the server still answers")
        except OSError:
            pass


def test_serve_runs_the_webhook_worker_beside_the_server_and_stops_it(tmp_path):
    import psutil

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MEDIA_ROOT")}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env={**env, "DATA_DIR": str(tmp_path)},
        check=True,
        capture_output=True,
        timeout=120,
    )
    proc, _ = start_serve(tmp_path)
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
        workers = [c for c in children if "events_worker" in " ".join(c.cmdline())]
        assert len(workers) == 1
        time.sleep(2)
        assert workers[0].is_running(), "the worker exited on its own"
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=40) == 0
        assert not workers[0].is_running() or workers[0].status() == psutil.STATUS_ZOMBIE
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
