"""Real server processes for tests: the production server that `make run` starts
(ops/server.py: gunicorn with uvicorn workers on config.asgi), on free loopback ports,
over the test database.

    from tests.servers import app_servers  # noqa: F401  (or list it in a conftest.py)

    def test_two_nodes(app_servers):
        one, two = app_servers.start(n=2)
        requests.get(one.url + "/health")   # .url, .pid, .stop()

The fixture uses `transactional_db`: a server process has its own database connections,
so it sees only committed rows, and the data a test writes must be committed for it
(pytest-django's `transactional_db` commits and empties the tables after the test).
Every server is stopped at teardown, before the tables are emptied. The servers share
the test process's SECRET_KEY and file storage folder unless `env` says otherwise.
"""

import os
import urllib.parse
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from ops.server import ServerProcess

READY_SECONDS = 60


def database_url_for_tests() -> str:
    """The test database (pytest-django's test_<name>), as a DATABASE_URL."""
    db = connection.settings_dict
    host = urllib.parse.quote(db["HOST"], safe="") if db["HOST"].startswith("/") else db["HOST"]
    password = f":{urllib.parse.quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgresql://{db['USER']}{password}@{host}{port}/{db['NAME']}"


class LiveServer(ServerProcess):
    """One server with its output in `log_path` (shown when it fails to start)."""

    def __init__(self, *, log_path: Path, env: dict, workers: int):
        self.log_path = log_path
        self._log = open(log_path, "w")  # closed in stop()
        super().__init__(env=env, workers=workers, stdout=self._log)

    def wait_ready(self, timeout: float = READY_SECONDS) -> None:
        try:
            super().wait_ready(timeout)
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"{exc}:\n{self.log_path.read_text()[-3000:]}") from None

    def stop(self, timeout: float = 25) -> int:
        code = super().stop(timeout)
        if not self._log.closed:
            self._log.close()
        return code


class AppServers:
    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.started: list[LiveServer] = []

    def base_env(self) -> dict:
        storage = settings.STORAGES["default"]
        env = {
            "DATABASE_URL": database_url_for_tests(),
            "DATA_DIR": str(self.tmp_path / "data"),
            "SECRET_KEY": settings.SECRET_KEY,
            # the tests' users are hashed with the fast hasher; production's stays second
            "PASSWORD_HASHERS": ",".join(settings.PASSWORD_HASHERS)
            + ",django.contrib.auth.hashers.PBKDF2PasswordHasher",
            "DEBUG": "0",
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        }
        if storage["BACKEND"].endswith("FileSystemStorage"):
            env["MEDIA_ROOT"] = str(storage["OPTIONS"].get("location", settings.MEDIA_ROOT))
        return env

    def start(self, n: int = 1, env: dict | None = None, workers: int = 1) -> list[LiveServer]:
        """n servers over the test database, each ready to answer when this returns
        (they start side by side)."""
        servers = []
        for _ in range(n):
            index = len(self.started)
            server = LiveServer(
                log_path=self.tmp_path / f"server-{index}.log",
                env={**self.base_env(), **(env or {})},
                workers=workers,
            )
            self.started.append(server)
            servers.append(server)
        for server in servers:
            server.wait_ready()
        return servers

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()


@pytest.fixture
def app_servers(transactional_db, tmp_path):
    """A factory: `app_servers.start(n=1, env=None, workers=1)` -> [server, ...], each with
    `.url`, `.pid`, `.stop()`. Needs (and requests) `transactional_db`; stops them all at
    teardown."""
    servers = AppServers(tmp_path)
    try:
        yield servers
    finally:
        servers.stop_all()
