"""import_users creates users as a sign-up does, with hashed passwords and errors by line."""

import json

from accounts.models import ApiUser
from tests.conftest import make_user

from .conftest import run_command


def test_csv_users_are_created_with_hashed_passwords_and_tags(application, write_file):
    path = write_file(
        "users.csv",
        "login,password,email,full_name,tags\n"
        'ann,secret-pass-1,ann@example.com,Ann Lee,"officers, pilots"\n'
        "bob,secret-pass-2,,,\n",
    )
    result = run_command("import_users", application.pk, path)
    assert result.code == 0, result.err
    assert "rows read: 2, created: 2, failed: 0" in result.out
    ann = ApiUser.objects.get(application=application, login="ann")
    assert (ann.email, ann.full_name, ann.tags) == (
        "ann@example.com",
        "Ann Lee",
        ["officers", "pilots"],
    )
    assert ann.password != "secret-pass-1" and ann.check_password("secret-pass-1")
    bob = ApiUser.objects.get(application=application, login="bob")
    assert (bob.email, bob.tags) == (None, [])


def test_json_users_and_bad_lines(application, write_file):
    make_user(application, "taken")
    rows = [
        {"login": "carl", "password": "long-enough", "tags": ["a", "b"]},
        {"login": "taken", "password": "long-enough"},
        {"login": "dora", "password": "short"},
        {"email": "not-an-email", "password": "long-enough"},
        {"login": "eve", "password": "long-enough", "role": "admin"},
        {"password": "long-enough"},
    ]
    # One user a line: "[" is line 1, so the n-th user is on line n + 1.
    path = write_file("users.json", "[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n")
    result = run_command("import_users", application.pk, path)
    assert result.code == 1
    assert "line 3: login: has already been taken" in result.err
    assert "line 4: password: is too short (minimum is 8 characters)" in result.err
    assert "line 5: email: is invalid" in result.err
    assert "line 6: role: is not a user column" in result.err
    assert "line 7: login: login or email is required" in result.err
    assert "created: 1, failed: 5" in result.out
    carl = ApiUser.objects.get(application=application, login="carl")
    assert carl.tags == ["a", "b"]
    assert ApiUser.objects.filter(application=application).count() == 2


def test_a_login_repeated_in_the_file_fails_the_later_line(application, write_file):
    path = write_file("u.csv", "login,password\nfay,password-1\nfay,password-2\n")
    result = run_command("import_users", application.pk, path)
    assert "line 3: login: has already been taken" in result.err
    assert ApiUser.objects.get(login="fay").check_password("password-1")


def test_dry_run_creates_nobody(application, write_file):
    path = write_file("u.csv", "login,password\ngus,password-1\nhal,short\n")
    result = run_command("import_users", application.pk, path, "--dry-run")
    assert result.code == 1 and "line 3: password: is too short" in result.err
    assert "would be created: 1" in result.out
    assert not ApiUser.objects.filter(application=application).exists()


def test_bad_files_are_clear_errors(application, write_file):
    assert (
        "the file is empty"
        in run_command("import_users", application.pk, write_file("u.csv", b"")).err
    )
    result = run_command("import_users", application.pk, write_file("u.csv", "login,age\nx,1\n"))
    assert result.code == 1 and "unknown column(s): age" in result.err
    result = run_command("import_users", 999999, write_file("v.csv", "login\n"))
    assert result.code == 1 and "there is no application 999999" in result.err
    assert not ApiUser.objects.exists()


def test_the_other_user_fields_import_with_the_sign_up_rules(application, write_file):
    path = write_file(
        "users.csv",
        "login,password,phone,website,timezone,facebook_id,custom_data\n"
        'fay,secret-pass-1,+6110797757,fay.example.com,180,91234409,"{""a"": 1}"\n'
        "gil,secret-pass-2,call me,,,,\n"
        "hal,secret-pass-3,,,9999,,\n",
    )
    result = run_command("import_users", application.pk, path)
    assert "rows read: 3, created: 1, failed: 2" in result.out
    assert "line 3: phone: must be digits" in result.err
    assert "line 4: timezone: must be between -720 and 840" in result.err
    fay = ApiUser.objects.get(application=application, login="fay")
    assert (fay.phone, fay.website, fay.timezone, fay.facebook_id, fay.custom_data) == (
        "+6110797757", "http://fay.example.com", 180, "91234409", '{"a": 1}',
    )  # fmt: skip
