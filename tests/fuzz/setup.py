"""What the fuzzer finds in the database before it starts, and the schema it is given."""

import json
from dataclasses import dataclass

from django.test import Client

from accounts.caller import Caller
from blobs.models import COMPLETE, Blob
from records import services
from records.openapi import with_class_fields
from tests.records.conftest import PROFILE_FIELDS, make_class


@dataclass
class World:
    class_name: str
    record_id: str
    child_id: str
    blob: Blob
    user_id: int

    def path_parameters(self) -> dict:
        return {
            "class_name": self.class_name,
            "ids": self.record_id,
            "record_id": self.record_id,
            "ident": str(self.blob.pk),
            "uid": self.blob.uid,
            "user_id": self.user_id,
            "external_id": self.user_id,
        }


def fuzz_world(application, user) -> World:
    klass = make_class(application, name="thing", fields=PROFILE_FIELDS)
    caller = Caller.for_user(user)
    values = {
        "full_name": "Dana",
        "age": 41,
        "score": 2.5,
        "active": True,
        "tags": ["a", "b"],
        "home": [2.35, 48.85],
        "born": "1990-05-06T07:08:09Z",
    }
    record = services.record_create(caller=caller, klass=klass, data=values)
    child = services.record_create(
        caller=caller, klass=klass, data={"age": 7, "_parent_id": record.pk}
    )
    for n in range(5):
        services.record_create(caller=caller, klass=klass, data={"age": n, "job": f"j{n}"})
    blob = Blob.objects.create(
        application=application, owner=user, name="f.txt", content_type="text/plain"
    )
    Blob.objects.filter(pk=blob.pk).update(blob_status=COMPLETE, size=0)
    return World(klass.name, record.pk, child.pk, blob, user.pk)


def specialised_schema(world: World) -> dict:
    """The server's schema, with the class's own fields in the record operations."""
    from classes.models import ObjectClass

    schema = json.loads(Client().get("/api/schema/", HTTP_ACCEPT="application/json").content)
    klass = ObjectClass.objects.get(name=world.class_name)
    return with_class_fields(schema, klass)
