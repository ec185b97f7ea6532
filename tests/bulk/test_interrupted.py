"""An import killed midway leaves whole batches, and a rerun with --on-conflict skip ends
with exactly the file's rows. The import runs as a real process against the test database."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from records.models import Record

from .conftest import make_class

ROOT = Path(__file__).resolve().parents[2]
ROWS, BATCH = 60_000, 500


def command_env(tmp_path) -> dict:
    """The environment of a manage.py process that uses this test's database."""
    db = connection.settings_dict
    url = f"postgresql://{db['USER']}@/{db['NAME']}?host={db['HOST']}"
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "test-import",
        "DATA_DIR": str(tmp_path / "data"),
    }


def manage(*args, env, **kwargs):
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), *map(str, args)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


@pytest.mark.django_db(transaction=True)
def test_a_killed_import_leaves_whole_batches_and_a_rerun_completes_it(application, tmp_path):
    klass = make_class(application, "events", fields=[("n", "integer"), ("label", "string")])
    ids = [f"{0x5F000000 + i:08x}{'0' * 8}{i:08x}" for i in range(ROWS)]
    path = tmp_path / "events.csv"
    with path.open("w") as out:
        out.write("_id,n,label\n")
        out.writelines(f"{rid},{i},row {i}\n" for i, rid in enumerate(ids))
    env = command_env(tmp_path)
    count = Record.objects.filter(object_class=klass).count

    process = manage(
        "import_records", application.pk, "events", path, "--batch-size", BATCH, env=env
    )
    deadline = time.monotonic() + 60
    while count() < 4 * BATCH and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the import ended before it could be killed"

    kept = count()
    assert 0 < kept < ROWS
    assert kept % BATCH == 0, f"{kept} rows: a batch was cut"
    # The kept rows are the first whole batches of the file.
    assert set(Record.objects.filter(object_class=klass).values_list("id", flat=True)) == set(
        ids[:kept]
    )

    rerun = manage(
        "import_records", application.pk, "events", path, "--on-conflict", "skip", env=env
    )
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert f"imported: {ROWS - kept}, updated: 0, skipped: {kept}, failed: 0" in out
    assert count() == ROWS
    assert sorted(Record.objects.filter(object_class=klass).values_list("id", flat=True)) == ids
