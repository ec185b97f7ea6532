"""The accounts commands: bootstrap (the first-run step of `make run`) and create_application."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import ApiSession, Application
from tests.conftest import Api, token_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_bootstrap_creates_the_administrator_once_and_prints_how_to_log_in(data_dir, client):
    first = run("bootstrap", "--url", "http://127.0.0.1:8077/admin/")
    password = (data_dir / "admin_password").read_text().strip()
    assert "Created the console administrator." in first
    assert "Console: http://127.0.0.1:8077/admin/" in first
    assert password in first
    assert "API docs: http://127.0.0.1:8077/api/docs/" in first
    assert (data_dir / "admin_password").stat().st_mode & 0o777 == 0o600
    assert client.login(username="admin", password=password)

    second = run("bootstrap")
    assert "Created" not in second
    assert password in second
    assert get_user_model().objects.filter(is_superuser=True).count() == 1


def test_bootstrap_does_not_print_a_password_that_was_changed(data_dir):
    run("bootstrap")
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("changed-in-the-console")
    admin.save()
    out = run("bootstrap")
    assert (data_dir / "admin_password").read_text().strip() not in out
    assert "your administrator's password" in out


def test_bootstrap_leaves_an_existing_superuser_alone(data_dir):
    get_user_model().objects.create_superuser("root", "", "root-password-123")
    out = run("bootstrap")
    assert "Created" not in out
    assert not (data_dir / "admin_password").exists()
    assert get_user_model().objects.count() == 1


def test_create_application_prints_working_credentials():
    credentials = json.loads(run("create_application", "My app"))
    assert set(credentials) == {"application_id", "auth_key", "auth_secret"}
    app = Application.objects.get(pk=credentials["application_id"])
    assert app.name == "My app"
    status, body = Api().post(
        "/session",
        {"application_id": credentials["application_id"], "auth_key": credentials["auth_key"]},
    )
    assert status == 201


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_create_application_refuses_a_bad_name(name):
    with pytest.raises(CommandError):
        call_command("create_application", name, stdout=StringIO())
    assert not Application.objects.exists()


def test_cleanup_sessions_deletes_only_expired_ones(application, owner):
    live = token_for(application, owner)
    token_for(application)
    ApiSession.objects.exclude(user=owner).update(
        updated_at=timezone.now() - timedelta(hours=2, minutes=1)
    )
    assert "Deleted 1 expired sessions." in run("cleanup_sessions")
    assert ApiSession.objects.count() == 1
    assert Api(live).get("/session")[0] == 200
