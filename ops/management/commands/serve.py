"""`manage.py serve`: the production server, in front of the database this process uses.

This process owns the embedded PostgreSQL (when DATABASE_URL is not set: the settings
started it) and runs the server (ops/server.py) as a child, handing it the database as a
DATABASE_URL so the server's processes never join or stop the embedded server themselves.

SIGTERM, SIGINT (Ctrl-C) and SIGHUP all stop it: the server is sent SIGTERM (requests in
flight finish, up to ops.server.GRACEFUL_SECONDS), this command waits for it, kills it
past that bound, and then exits normally, which is what stops the embedded PostgreSQL. A
signal sent to the whole process group reaches the server too: SIGTERM changes nothing,
while Ctrl-C's SIGINT makes gunicorn stop at once rather than gracefully.
"""

import os
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ops.server import GRACEFUL_SECONDS, ServerProcess, worker_count


def database_url() -> str:
    """The URL of the database Django uses here, for the server's processes."""
    if settings.DATABASE_URL:
        return settings.DATABASE_URL
    db = settings.DATABASES["default"]  # the embedded server, on its Unix socket folder
    host = urllib.parse.quote(db["HOST"], safe="")
    return f"postgresql://{db['USER']}@{host}/{db['NAME']}"


class Command(BaseCommand):
    help = "Serve the API and the console with the production server (gunicorn + uvicorn)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=None, help="default: one per CPU")
        parser.add_argument(
            "--no-events-worker",
            action="store_true",
            help="do not start the webhook worker (run `manage.py events_worker` elsewhere)",
        )

    def handle(self, *args, host, port, workers, no_events_worker, **options):
        self.stopping_since = None
        workers = workers or worker_count()
        self.server = ServerProcess(
            host=host, port=port, workers=workers, env={"DATABASE_URL": database_url()}
        )
        # The webhook worker (docs/events.md) beside the server, over the same database.
        self.events_worker = None if no_events_worker else _start_events_worker()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._stop)
        self.stdout.write(f"Serving on http://{host}:{port}/ with {workers} workers")
        code = self._wait()
        if self.stopping_since is None and code != 0:
            raise CommandError(f"the server exited with status {code}")

    def _stop(self, signum, frame) -> None:
        if self.stopping_since is None:
            self.stopping_since = time.monotonic()
            self.stdout.write("Stopping: finishing the requests in flight...")
        if self.server.process.poll() is None:
            self.server.process.send_signal(signal.SIGTERM)
        if self.events_worker is not None and self.events_worker.poll() is None:
            self.events_worker.send_signal(signal.SIGTERM)

    def _wait(self) -> int:
        """The server's exit status; past the graceful bound after a stop, it is killed."""
        process = self.server.process
        while process.poll() is None:
            if (
                self.stopping_since is not None
                and time.monotonic() - self.stopping_since > GRACEFUL_SECONDS + 5
            ):
                process.kill()
            if self.events_worker is not None and self.events_worker.poll() is not None:
                if self.stopping_since is None:  # it died: start another one
                    self.stderr.write("The webhook worker stopped; starting it again.")
                    time.sleep(1)
                    self.events_worker = _start_events_worker()
            time.sleep(0.2)
        self._stop_events_worker()
        return process.returncode

    def _stop_events_worker(self) -> None:
        worker = self.events_worker
        if worker is None or worker.poll() is not None:
            return
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=GRACEFUL_SECONDS)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)


def _start_events_worker() -> subprocess.Popen:
    root = Path(__file__).resolve().parents[3]
    return subprocess.Popen(
        [sys.executable, "manage.py", "events_worker"],
        cwd=root,
        env={**os.environ, "DATABASE_URL": database_url()},
    )
