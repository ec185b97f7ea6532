"""records.query.rows: its SQL answers what the ORM answers, and writes only unchanged rows."""

import pytest

from records.models import Record
from records.query.rows import record_by_id, write_if_unchanged

COLUMNS = [f.attname for f in Record._meta.concrete_fields]


def values(record) -> dict:
    return {name: getattr(record, name) for name in COLUMNS}


def test_record_by_id_is_the_orm_record(profile, create, member):
    record = create(
        full_name="Nadine",
        age=41,
        tags=["a", 2, 1.5, True],
        home=[1.25, -3.5],
        permissions={
            "read": {"access": "open_for_groups", "users_groups": ["officers"]},
            "update": {"access": "open_for_users_ids", "users_ids": [str(member.pk)]},
        },
    )
    found, version = record_by_id(profile, record.pk)
    assert values(found) == values(Record.objects.get(pk=record.pk))
    assert version.isdigit()
    assert not found._state.adding


def test_record_by_id_keeps_integers_beyond_64_bits(profile, create):
    record = create(age=1)
    Record.objects.filter(pk=record.pk).update(data={"tags": [2**70, -(2**70)]})
    found, _ = record_by_id(profile, record.pk)
    assert found.data["tags"] == [2**70, -(2**70)] == Record.objects.get(pk=record.pk).data["tags"]


def test_record_by_id_is_none_for_another_class_or_no_record(profile, create, application):
    from .conftest import make_class

    other = make_class(application, name="other", fields=[("age", "integer")])
    record = create(age=1)
    assert record_by_id(other, record.pk) is None
    assert record_by_id(profile, "0" * 24) is None


def test_write_if_unchanged_stores_what_the_orm_would(profile, create, member):
    record = create(age=1, tags=["a"])
    parent = create(age=0)  # _parent_id is a foreign key: it names a record that exists
    ours, version = record_by_id(profile, record.pk)
    theirs = Record.objects.get(pk=record.pk)
    for row in (ours, theirs):
        row.data = {**row.data, "age": 2, "tags": ["a", "b"], "big": 2**70}
        row.updated_at += 5
        row.update_access, row.update_ids = "open_for_users_ids", [member.pk]
        row.read_access, row.read_groups = "open_for_groups", ["x", "y"]
        row.parent_id = parent.pk
    assert write_if_unchanged(ours, version)
    stored_by_us = values(Record.objects.get(pk=record.pk))
    theirs.save()
    assert stored_by_us == values(Record.objects.get(pk=record.pk))


# Transactional: each write commits on its own, as requests do. (Inside one transaction
# every row version it writes carries the same xmin; nothing else writes in between there.)
@pytest.mark.django_db(transaction=True)
def test_write_if_unchanged_refuses_a_row_changed_since_it_was_read(profile, create):
    record = create(age=1)
    ours, version = record_by_id(profile, record.pk)
    Record.objects.filter(pk=record.pk).update(data={"age": 10})  # another writer
    ours.data = {"age": 2}
    assert not write_if_unchanged(ours, version)
    assert Record.objects.get(pk=record.pk).data == {"age": 10}
    again, new_version = record_by_id(profile, record.pk)
    again.data = {"age": again.data["age"] + 1}
    assert write_if_unchanged(again, new_version)
    assert Record.objects.get(pk=record.pk).data == {"age": 11}


def test_write_if_unchanged_refuses_a_deleted_row(profile, create):
    record = create(age=1)
    ours, version = record_by_id(profile, record.pk)
    Record.objects.filter(pk=record.pk).delete()
    assert not write_if_unchanged(ours, version)
    assert not Record.objects.filter(pk=record.pk).exists()


@pytest.mark.parametrize(
    "changes, statements",
    [
        # the session, then one UPDATE that does everything (records.query.inplace)
        ({"inc": {"age": 1}}, 2),
        ({"age": 5, "job": "x", "score": None}, 2),
        # the session, the record, the compare-and-set write: no BEGIN/COMMIT, no lock
        ({"push": {"tags": ["a"]}}, 3),
        ({"inc": {"score": 0.5}}, 3),
    ],
)
def test_an_update_of_one_record_sends_at_most_two_statements_after_the_session(
    owner_api, create, owner, changes, statements, django_assert_num_queries
):
    record = create(age=1)
    owner_api.get(f"/data/profile/{record.pk}")  # the class is cached from here on
    with django_assert_num_queries(statements):
        status, _ = owner_api.put(f"/data/profile/{record.pk}", changes)
    assert status == 200


def test_a_get_is_one_statement_and_a_create_two(owner_api, create, django_assert_num_queries):
    record = create(age=1)
    owner_api.get(f"/data/profile/{record.pk}")
    # the session and the record in one statement (config.lane.Fold)
    with django_assert_num_queries(1):
        assert owner_api.get(f"/data/profile/{record.pk}")[0] == 200
    with django_assert_num_queries(2):
        assert owner_api.post("/data/profile", {"age": 3})[0] == 201


def test_records_of_is_what_the_orm_answers(profile, create, owner, stranger):
    from django.db.models import F, Value

    from accounts.caller import Caller
    from records.query import parse
    from records.query.compile import filtered, ordered
    from records.query.rows import records_of

    for age in range(12):
        create(age=age, tags=["t", age], permissions={"read": {"access": "owner"}})
    for caller in (Caller.for_user(owner), Caller.for_user(stranger)):
        query = parse(profile, {"age": {"gte": "3"}, "sort_desc": "age", "limit": "5"})
        queryset = ordered(profile, query, filtered(profile, query, caller))[1:6]
        assert [values(r) for r in records_of(queryset)] == [values(r) for r in queryset]
    assert records_of(Record.objects.filter(pk__in=[])) == []
    annotated = Record.objects.annotate(twice=F("created_at") * Value(2)).order_by("id")
    assert [(r.pk, r.twice) for r in records_of(annotated)] == [(r.pk, r.twice) for r in annotated]


def test_insert_stores_what_the_orm_would(profile, owner, member):
    from records.ids import new_object_id
    from records.query.rows import insert

    def build():
        return Record(
            id=new_object_id(),
            application_id=profile.application_id,
            object_class=profile,
            user_id=owner.pk,
            created_at=100,
            updated_at=100,
            data={"age": 3, "tags": ["a", 1.5], "big": 2**70},
            read_access="open_for_groups",
            read_groups=["officers"],
            update_access="open_for_users_ids",
            update_ids=[member.pk, 2**40],
        )

    ours, theirs = build(), build()
    insert(ours)
    theirs.save(force_insert=True)
    assert not ours._state.adding
    stored = [values(Record.objects.get(pk=r.pk)) for r in (ours, theirs)]
    assert {**stored[0], "id": None} == {**stored[1], "id": None}
    assert stored[0]["data"]["big"] == 2**70 and stored[0]["delete_access"] == "owner"


def test_rows_become_the_records_from_db_makes(profile, create):
    from django.db.models.signals import post_init

    record = create(age=1, tags=["a"])
    found, _ = record_by_id(profile, record.pk)
    orm = Record.objects.get(pk=record.pk)
    assert values(found) == values(orm)
    assert (found._state.adding, found._state.db) == (orm._state.adding, orm._state.db)
    assert found.object_class == profile  # relations load as on the ORM's instance
    found.data["age"] = 2
    found.save()
    assert Record.objects.get(pk=record.pk).data["age"] == 2

    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.pk)

    # a receiver of the model's signals gets them, as from the ORM's rows
    post_init.connect(receiver, sender=Record)
    try:
        record_by_id(profile, record.pk)
    finally:
        post_init.disconnect(receiver, sender=Record)
    assert seen == [record.pk]


def test_a_listed_page_shows_what_its_records_would(profile, create, owner):
    from accounts.caller import Caller
    from records.query import search
    from records.query.rows import LISTED, Listed
    from records.serializers import record_json

    create(full_name="Ann", age=30, tags=[2**70, "x"], home=[1.5, 2.5])
    create(full_name="Bob", age=31)
    params = {"age": {"gte": "30"}, "sort_desc": "age"}
    listed = search(profile, params, Caller.for_user(owner), listed=True).records
    records = search(profile, params, Caller.for_user(owner)).records
    assert [type(row) for row in listed] == [Listed, Listed]
    assert [[getattr(row, name) for name in LISTED] for row in listed] == [
        [getattr(record, name) for name in LISTED] for record in records
    ]
    shown = [record_json(row, profile, permissions=False) for row in listed]
    assert shown == [record_json(r, profile, permissions=False) for r in records]
    assert [item["full_name"] for item in shown] == ["Bob", "Ann"]
    assert shown[1]["tags"] == [2**70, "x"]
