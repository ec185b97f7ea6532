"""A `profile` class with one field of every type, and helpers to make records directly."""

import pytest

from accounts.caller import Caller
from classes.models import Field, ObjectClass
from records import services

PROFILE_FIELDS = [
    ("full_name", "string"),
    ("age", "integer"),
    ("job", "string"),
    ("country_of_birth", "string"),
    ("score", "float"),
    ("active", "boolean"),
    ("tags", "array"),
    ("home", "location"),
    ("born", "date"),
    ("avatar", "file"),
]


def make_class(application, name="profile", fields=PROFILE_FIELDS, permissions=None):
    klass = ObjectClass.objects.create(application=application, name=name)
    if permissions:
        klass.permissions = {**klass.permissions, **permissions}
        klass.save()
    for position, (field_name, kind) in enumerate(fields):
        Field.objects.create(object_class=klass, name=field_name, type=kind, position=position)
    return ObjectClass.objects.get(pk=klass.pk)


@pytest.fixture
def profile(application):
    return make_class(application)


@pytest.fixture
def create(profile, owner):
    """create(user=owner, klass=profile, **fields) -> Record, through the service."""

    def build(user=None, klass=None, **data):
        caller = Caller.for_user(user or owner)
        return services.record_create(caller=caller, klass=klass or profile, data=data)

    return build
