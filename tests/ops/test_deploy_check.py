"""`manage.py check --deploy` is clean with the documented HTTPS settings, and the
security settings behind it follow the environment."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def check_deploy(tmp_path, **env) -> subprocess.CompletedProcess:
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process; a deployment never has it.
    unset = {"PUBLIC_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    environ = {k: v for k, v in os.environ.items() if k not in unset}
    environ.update(
        DATA_DIR=str(tmp_path),
        # check --deploy does not connect; a URL keeps the embedded server from starting
        DATABASE_URL="postgres://cube@127.0.0.1:1/cube",
        **env,
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_behind_https(tmp_path):
    result = check_deploy(tmp_path, PUBLIC_URL="https://cube.example.com")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "identified no issues" in result.stdout


def test_check_deploy_warns_when_served_over_plain_http(tmp_path):
    result = check_deploy(tmp_path, PUBLIC_URL="http://cube.example.com")
    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr


def test_each_https_default_can_be_turned_off(tmp_path):
    result = check_deploy(tmp_path, PUBLIC_URL="https://cube.example.com", SECURE_SSL_REDIRECT="0")
    assert "security.W008" in result.stderr
