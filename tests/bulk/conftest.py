"""A class with one field of every type, and helpers to run the bulk commands."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from classes.models import Field, ObjectClass
from records.models import Record

FIELDS = [
    ("age", "integer"),
    ("score", "float"),
    ("name", "string"),
    ("active", "boolean"),
    ("tags", "array"),
    ("place", "location"),
    ("born", "date"),
    ("photo", "file"),
]


def make_class(application, name="profile", fields=FIELDS) -> ObjectClass:
    klass = ObjectClass.objects.create(application=application, name=name)
    for position, (field_name, field_type) in enumerate(fields):
        Field.objects.create(
            object_class=klass, name=field_name, type=field_type, position=position
        )
    return klass


@pytest.fixture
def profile(application):
    return make_class(application)


def records(klass) -> list[Record]:
    return list(Record.objects.filter(object_class=klass).order_by("id"))


def values(klass, name) -> list:
    return [
        r.data[name] for r in Record.objects.filter(object_class=klass).order_by("created_at", "id")
    ]


class Result:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err


def run_command(name, *args, stdin: bytes | None = None) -> Result:
    """Run a management command as a script would: exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(name, *[str(a) for a in args], stdout=out, stderr=err)
        code = 0
    except CommandError as exc:
        err.write(str(exc))
        code = exc.returncode or 1
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def write_file(tmp_path):
    def write(name: str, content: str | bytes):
        path = tmp_path / name
        if isinstance(content, str):
            content = content.encode()
        path.write_bytes(content)
        return path

    return write
