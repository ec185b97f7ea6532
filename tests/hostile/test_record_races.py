"""Parent deletes racing child creates and multi updates (API.md §5, relations).

Each round starts the competing requests at one moment from separate threads against two
real server processes (tests/servers.py), and checks what a user would see: no 500, and no record left whose
`_parent_id` names a record that is gone. Ids are time-ordered only to the second, so a child
can have a smaller `_id` than its parent; the rounds force that case, which is the one where
locking in `_id` order alone deadlocked against a parent's delete.
"""

import pytest
from django.db import connection

from records.models import Record
from tests.conftest import make_user, token_for

from .live import Live
from .races import together

ROUNDS = 25


def _orphans() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM records_record c WHERE c.parent_id IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM records_record p WHERE p.id = c.parent_id)"
        )
        return cursor.fetchone()[0]


def _set_id(old: str, new: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE records_record SET id = %s WHERE id = %s", [new, old])
    return new


@pytest.fixture
def nodes(app_servers, application, profile) -> list[Live]:
    """Two server processes over the test database, each with a client of one user."""
    token = token_for(application, make_user(application, "racer"))
    return [Live(server.url, token) for server in app_servers.start(n=2)]


def test_children_created_while_their_parent_is_deleted_leave_no_orphan(nodes):
    api, other = nodes
    for _ in range(ROUNDS):
        status, parent = api.post("/data/profile", {"age": 1})
        assert status == 201

        def add_child(node, parent_id=parent["_id"]):
            return lambda: node.post("/data/profile", {"age": 2, "_parent_id": parent_id})[0]

        def delete(parent_id=parent["_id"]):
            return api.delete(f"/data/profile/{parent_id}")[0]

        results = together(add_child(other), add_child(api), delete, add_child(other))
        assert results[2] == 200
        assert all(s in (201, 422) for s in results[:2] + results[3:]), results
        assert _orphans() == 0
        assert Record.objects.count() == 0  # each child went with its parent, none detached


def test_multi_update_of_child_and_parent_while_the_parent_is_deleted(nodes):
    api, other = nodes
    for n in range(ROUNDS):
        status, parent = api.post("/data/profile", {"age": 1})
        parent_id = _set_id(parent["_id"], f"{n:02x}ffffffffffffffffffffff")
        child_id = _set_id(
            api.post("/data/profile", {"age": 2, "_parent_id": parent_id})[1]["_id"],
            f"{n:02x}0000000000000000000000",
        )
        assert child_id < parent_id

        def update(child_id=child_id, parent_id=parent_id):
            body = {"record": {"1": {"id": child_id, "age": 5}, "2": {"id": parent_id, "age": 5}}}
            return other.put("/data/profile/multi", body)

        def delete(parent_id=parent_id):
            return api.delete(f"/data/profile/{parent_id}")

        (update_status, body), (delete_status, _) = together(update, delete)
        assert update_status == 200, body
        assert delete_status == 200
        assert not Record.objects.filter(pk__in=[parent_id, child_id]).exists()
    assert _orphans() == 0


def test_deleting_by_ids_and_by_criteria_while_children_are_added(nodes):
    api, other = nodes
    for _ in range(ROUNDS // 2):
        parents = [api.post("/data/profile", {"job": "doomed"})[1]["_id"] for _ in range(3)]

        def add_child(parent_id):
            return lambda: other.post("/data/profile", {"_parent_id": parent_id})[0]

        def by_ids(parents=parents):
            return api.delete(f"/data/profile/{parents[0]},{parents[1]}")[0]

        def by_criteria():
            return other.delete("/data/profile/by_criteria", params={"job": "doomed"})[0]

        results = together(by_ids, by_criteria, *(add_child(p) for p in parents))
        assert results[:2] == [200, 200], results
        assert all(s in (201, 422) for s in results[2:]), results
        assert _orphans() == 0
    assert Record.objects.count() == 0


@pytest.mark.django_db
def test_the_database_refuses_a_child_of_a_missing_parent(create):
    from django.db import IntegrityError, transaction

    parent = create(age=1)
    child = create(age=2, _parent_id=parent.pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        Record.objects.filter(pk=child.pk).update(parent_id="f" * 24)
    Record.objects.filter(pk=parent.pk).delete()  # a delete that forgets the children
    assert Record.objects.get(pk=child.pk).parent_id is None
