"""The embedded PostgreSQL stops with the last process that uses it, however that process
is ended, so `make run` stopped by a signal leaves no server behind."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOLDER = """
import sys, time
sys.path.insert(0, sys.argv[2])
from pathlib import Path
from config import embedded_db
embedded_db.start(Path(sys.argv[1]))
print("ready", flush=True)
time.sleep(120)
"""


def hold(pgdata: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(pgdata), str(ROOT)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "ready"
    return proc


def server_running(pgdata: Path) -> bool:
    return (pgdata / "postmaster.pid").exists()


def wait_stopped(pgdata: Path, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not server_running(pgdata):
            return True
        time.sleep(0.2)
    return False


def test_sigterm_stops_the_embedded_server(tmp_path):
    pgdata = tmp_path / "pgdata"
    proc = hold(pgdata)
    assert server_running(pgdata)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    assert wait_stopped(pgdata)


def test_a_dead_holder_left_on_the_list_does_not_keep_the_server_alive(tmp_path):
    pgdata = tmp_path / "pgdata"
    proc = hold(pgdata)
    proc.kill()  # no exit handlers run: its pid stays on pgserver's list
    proc.wait(timeout=10)
    handles = json.loads((pgdata / ".handle_pids.json").read_text())
    assert proc.pid in handles

    second = hold(pgdata)  # joins the running server, forgetting the dead pid
    assert proc.pid not in json.loads((pgdata / ".handle_pids.json").read_text())
    second.send_signal(signal.SIGTERM)
    second.wait(timeout=30)
    assert wait_stopped(pgdata)


def test_the_last_live_holder_stops_the_server_past_a_killed_one(tmp_path):
    """What `make run` is: runserver's reloader and its child share the server; sent
    SIGTERM, the reloader SIGKILLs the child (no exit handlers) and then exits itself."""
    pgdata = tmp_path / "pgdata"
    reloader, child = hold(pgdata), hold(pgdata)
    child.kill()
    child.wait(timeout=10)
    reloader.send_signal(signal.SIGTERM)
    reloader.wait(timeout=30)
    assert wait_stopped(pgdata)
