"""The production server's command line, shared by `manage.py serve`, the live-server
fixture of the tests (tests/servers.py) and the benchmarks, so all three run the same
server the same way.

gunicorn manages the worker processes (restarts a dead one, graceful stop on SIGTERM) and
each worker is uvicorn's event loop (uvloop + httptools) serving `config.asgi:application`.
The README's "Why this stack" has the measurements behind the choice.
"""

import os
import shutil
import sys
from pathlib import Path

from config.env import env_int

# Seconds a worker may take to finish its requests once told to stop.
GRACEFUL_SECONDS = 20


def usable_cpus() -> set[int]:
    """The CPUs this process may run on (a container's cpuset counts, not the host's)."""
    if hasattr(os, "sched_getaffinity"):
        return os.sched_getaffinity(0)
    return set(range(os.cpu_count() or 1))


def worker_count() -> int:
    """WEB_CONCURRENCY if set, else one per CPU the server may use. Each worker runs its
    sync views on a pool of threads and is pinned to a CPU of its own
    (ops.uvicorn_worker.CpuPins), so a worker more would only add memory and, pinned,
    share a CPU with another: taking turns at it, the two answered a get at 8 connections
    with a p95 of 13.5 ms instead of 3 (docs/performance.md, "One CPU per worker")."""
    return env_int("WEB_CONCURRENCY", len(usable_cpus()))


def _tool(name: str) -> str:
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else (shutil.which(name) or name)


def command(host: str, port: int, *, workers: int | None = None, kind: str = "uvicorn") -> list:
    """argv that serves the ASGI application on host:port. `kind` exists for the
    benchmark that compared the candidates; everything else uses the default."""
    workers = workers or worker_count()
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if kind == "granian":
        return [
            _tool("granian"),
            "--interface=asgi",
            f"--host={host}",
            f"--port={port}",
            f"--workers={workers}",
            "--loop=uvloop",
            "--no-ws",
            "config.asgi:application",
        ]
    worker_class = {
        "uvicorn": "ops.uvicorn_worker.Worker",
        "gunicorn-asgi": "asgi",
        "gthread": "gthread",
    }[kind]
    target = "config.wsgi:application" if kind == "gthread" else "config.asgi:application"
    return [
        _tool("gunicorn"),
        target,
        f"--bind={bind}",
        f"--workers={workers}",
        f"--worker-class={worker_class}",
        f"--graceful-timeout={GRACEFUL_SECONDS}",
        "--config=python:ops.gunicorn_hooks",
        "--keep-alive=30",
        "--no-control-socket",
        *(["--threads=4"] if kind == "gthread" else []),
    ]


def free_port(host: str = "127.0.0.1") -> int:
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class ServerProcess:
    """The server as a child process: `manage.py serve` runs one, the tests' live-server
    fixture and the benchmarks run one or more on free ports. `env` is added to this
    process's environment (DATABASE_URL, S3_* ...)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        env: dict | None = None,
        workers: int | None = None,
        kind: str = "uvicorn",
        stdout=None,
        root: Path | None = None,
        argv: list | None = None,
    ):
        """`root` and `argv`: another checkout of the project and its own command line
        (bench/revisions.py serves two revisions side by side); by default this one's."""
        import subprocess
        import tempfile

        self.host, self.port = host, port or free_port(host)
        env = dict(env or {})
        # prometheus-client's multiprocess mode: one folder per server, new at each start
        self._metrics_dir = None
        if "PROMETHEUS_MULTIPROC_DIR" not in {**os.environ, **env}:
            self._metrics_dir = tempfile.mkdtemp(prefix="cubebase-metrics-")
            env["PROMETHEUS_MULTIPROC_DIR"] = self._metrics_dir
        netloc = f"[{host}]" if ":" in host else host
        self.url = f"http://{netloc}:{self.port}"
        self.process = subprocess.Popen(
            argv or command(host, self.port, workers=workers, kind=kind),
            cwd=root or Path(__file__).resolve().parent.parent,
            env={**os.environ, **env},
            stdout=stdout,
            stderr=subprocess.STDOUT if stdout is not None else None,
        )
        self.pid = self.process.pid

    def wait_ready(self, timeout: float = 60) -> None:
        """Until GET /health/live answers 200; raises if the server exits or times out."""
        import time
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(self.url + "/health/live", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server did not answer within {timeout:.0f} s")

    def stop(self, timeout: float = GRACEFUL_SECONDS + 5) -> int:
        """SIGTERM (graceful: requests in flight finish), SIGKILL past `timeout`."""
        import subprocess

        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._metrics_dir:
            shutil.rmtree(self._metrics_dir, ignore_errors=True)
        return self.process.returncode

    def connections_by_worker(self, client_ports) -> dict[int, int]:
        """{worker pid: how many of the connections from the given client ports it holds}."""
        import psutil

        ports = set(client_ports)
        return {
            worker.pid: sum(
                1 for c in worker.net_connections("tcp") if c.raddr and c.raddr.port in ports
            )
            for worker in psutil.Process(self.pid).children()
        }

    def connections_per_worker(self, client_ports) -> list[int]:
        """How many of the connections from the given client ports each worker holds,
        fewest first ("0/2/6": eight connections on two of three workers)."""
        return sorted(self.connections_by_worker(client_ports).values())

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server's processes (manager and workers)."""
        import psutil

        root = psutil.Process(self.pid)
        total = 0.0
        for proc in [root, *root.children(recursive=True)]:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total
