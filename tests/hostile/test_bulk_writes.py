"""A by-criteria update writes each record once, with every change in that one write."""

import pytest

from events.models import Event, Listener
from records.models import Record


@pytest.mark.django_db
def test_by_criteria_update_writes_each_record_once(create, owner_api, member, profile):
    # the class is listened to, so its changes are journaled (events.listeners)
    Listener.objects.create(object_class_id=profile.pk, until=2**62, since=0)
    records = [create(age=n, job="x", tags=["a"]) for n in range(3)]
    Event.objects.all().delete()
    body = {
        "search_criteria": {"job": "x"},
        "inc": {"age": 10},
        "push": {"tags": "b"},
        "permissions": {"read": {"access": "open_for_users_ids", "ids": [member.pk]}},
    }
    status, answer = owner_api.put("/data/profile/by_criteria", body)
    assert status == 200 and answer["total_found"] == 3
    assert Event.objects.filter(op="update").count() == 3
    for n, record in enumerate(records):
        stored = Record.objects.get(pk=record.pk)
        assert stored.data["age"] == n + 10 and stored.data["tags"] == ["a", "b"]
        assert (stored.read_access, stored.read_ids) == ("open_for_users_ids", [member.pk])
        assert stored.updated_at >= record.updated_at
