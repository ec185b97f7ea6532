"""The journal: what each write path records, the safe reading order, pruning."""

import io
import json
import time

import psycopg
import pytest
from django.core.management import call_command

from accounts.caller import Caller
from events import journal
from events.hub import listen_params
from events.models import Event, JournalState
from records import services
from tests.events.conftest import Reader


def ops(rows):
    return [(row.op, row.event.record_id) for row in rows]


def test_create_update_delete_are_journaled_in_order(reader, create, thing, owner):
    record = create(name="a", age=1)
    caller = Caller.for_user(owner)
    services.record_update(caller=caller, klass=thing, record_id=record.id, changes={"age": 2})
    services.record_delete(caller=caller, klass=thing, record_id=record.id)
    rows = reader.read()
    assert ops(rows) == [("create", record.id), ("update", record.id), ("delete", record.id)]
    create_row, update_row, delete_row = rows
    assert create_row.old is None and create_row.new.data["age"] == 1
    assert update_row.old.data["age"] == 1 and update_row.new.data["age"] == 2
    assert delete_row.new is None and delete_row.old.data["age"] == 2
    assert update_row.new.user_id == owner.pk and update_row.new.read_access == "open"


def test_an_integer_beyond_64_bits_is_journaled_exactly(reader, create):
    big = 123456789012345678901234567890
    create(name="big", tags=[big, -big])
    (row,) = reader.read()
    assert row.new.data["tags"] == [big, -big]


def test_reading_again_gives_nothing_new(reader, create):
    create(name="a")
    assert len(reader.read()) == 1
    assert reader.read() == []


def test_multi_create_and_by_criteria_journal_every_record(reader, thing, owner):
    caller = Caller.for_user(owner)
    made = services.records_create_multi(
        caller=caller, klass=thing, items={"1": {"age": 1}, "2": {"age": 2}}
    )
    services.records_update_by_criteria(
        caller=caller, klass=thing, criteria={"age": {"gte": 1}}, changes={"name": "x"}
    )
    rows = reader.read()
    ids = sorted(r.id for r in made)
    assert [op for op, _ in ops(rows)] == ["create", "create", "update", "update"]
    assert sorted(rid for op, rid in ops(rows) if op == "update") == ids


def test_an_update_that_changes_nothing_is_not_an_event(reader, create, thing):
    record = create(name="a")
    reader.read()
    from records.models import Record

    Record.objects.filter(pk=record.id).update(read_access="open")  # same value
    assert reader.read() == []


def test_cascade_delete_journals_the_children(reader, create, thing, owner):
    parent = create(name="parent")
    child = services.record_create(
        caller=Caller.for_user(owner), klass=thing, data={"name": "child", "_parent_id": parent.id}
    )
    reader.read()
    services.record_delete(caller=Caller.for_user(owner), klass=thing, record_id=parent.id)
    assert sorted(ops(reader.read())) == sorted([("delete", parent.id), ("delete", child.id)])


def test_import_records_journals_one_create_per_row(reader, thing, application, tmp_path):
    path = tmp_path / "things.json"
    path.write_text(json.dumps([{"name": f"n{i}", "age": i} for i in range(5)]))
    call_command("import_records", str(application.pk), "thing", str(path), stdout=io.StringIO())
    rows = reader.read()
    assert [r.op for r in rows] == ["create"] * 5
    assert sorted(r.new.data["age"] for r in rows) == [0, 1, 2, 3, 4]


def _raw_connection():
    return psycopg.connect(**listen_params())


RAW_INSERT = """
INSERT INTO records_record (id, application_id, object_class_id, user_id, created_at,
  updated_at, data, read_access, read_ids, read_groups, update_access, update_ids,
  update_groups, delete_access, delete_ids, delete_groups)
VALUES (%s, %s, %s, NULL, 0, 0, '{}', 'open', '{}', '{}', 'owner', '{}', '{}', 'owner', '{}', '{}')
"""


def test_a_row_with_a_smaller_id_committed_later_is_not_skipped(reader, thing):
    """The classic pitfall: B takes its transaction id first, A takes the smaller journal
    id, B commits while A is still open. Reading "id > last seen" after B's row would skip
    A's row forever; the journal's batches deliver both."""
    with _raw_connection() as a, _raw_connection() as b:
        b.execute("SELECT pg_current_xact_id()")  # B's transaction id is the older one
        a.execute(RAW_INSERT, ("a" * 24, thing.application_id, thing.pk))  # smaller event id
        b.execute(RAW_INSERT, ("b" * 24, thing.application_id, thing.pk))
        b.commit()
        first = reader.read()
        a.commit()
        second = reader.read()
    assert [r.event.record_id for r in first] == ["b" * 24]
    assert [r.event.record_id for r in second] == ["a" * 24]
    assert second[0].id < first[0].id


def test_nothing_is_read_past_a_running_older_writer(reader, thing):
    with _raw_connection() as a, _raw_connection() as b:
        a.execute(RAW_INSERT, ("a" * 24, thing.application_id, thing.pk))
        b.execute(RAW_INSERT, ("b" * 24, thing.application_id, thing.pk))
        b.commit()
        assert reader.read() == []  # B's row waits for A, older and still running
        a.commit()
        assert [r.event.record_id for r in reader.read()] == ["a" * 24, "b" * 24]


def test_a_position_resumes_exactly_on_any_node(create):
    start = journal.now_position()
    made = [create(name=str(i)).id for i in range(4)]
    one, two = Reader(), Reader()
    one.position = two.position = start
    rows = one.read()
    assert [r.event.record_id for r in rows] == made
    resumed_from = rows[1].position  # a client saw the second event, then reconnects
    segments = journal.segments_between(resumed_from, one.position)
    assert [r.event.record_id for r in journal.read_segments(segments)] == made[2:]


def test_notify_once_per_transaction(thing, owner):
    with _raw_connection() as listener:
        listener.autocommit = True
        listener.execute("LISTEN cubebase_events")
        services.records_create_multi(
            caller=Caller.for_user(owner), klass=thing, items={"1": {}, "2": {}, "3": {}}
        )
        notes = list(listener.notifies(timeout=0.5))
    assert len(notes) == 1


def test_prune_removes_old_events_and_marks_the_horizon(reader, create, settings):
    old = create(name="old")
    start = journal.now_position()
    Event.objects.filter(record_id=old.id).update(occurred_at=0)
    create(name="new")
    assert journal.prune(now=int(time.time())) == 1
    assert list(Event.objects.values_list("new__data__name", flat=True)) == ["new"]
    assert JournalState.objects.get().pruned_xid > 0
    assert journal.pruned_beyond(journal.Position(0, 0, 0))
    assert not journal.pruned_beyond(start)


@pytest.mark.parametrize("text", ["", "x", "1-2", "3-2-1", "a-b-c", "1-2-3-4"])
def test_a_foreign_event_id_is_not_a_position(text):
    assert journal.Position.parse(text) is None


def test_reading_in_small_pages_across_batches_skips_and_repeats_nothing(
    reader, create, monkeypatch
):
    made = [create(name=str(i)).id for i in range(3)]
    monkeypatch.setattr(journal, "PAGE_SIZE", 2)
    first = reader.read()
    made += [create(name=str(i)).id for i in range(3, 7)]
    second = reader.read()
    assert [r.event.record_id for r in first + second] == made
    segments = journal.segments_between(first[0].position, reader.position)
    assert [r.event.record_id for r in journal.read_segments(segments)] == made[1:]


@pytest.mark.django_db
def test_a_read_does_not_scan_the_whole_journal():
    """Every server process with subscribers reads the journal ~25 times a second: a read
    must cost what is new, not what the journal holds. It once scanned every row to learn
    whether a newer one was held back, with the plan PostgreSQL kept for the prepared
    statement from when the journal was small."""
    from django.db import connection

    position = journal.now_position()
    for _ in range(10):  # the statement is prepared and its generic plan kept
        journal.read_after(position)
    with connection.cursor() as cursor:
        cursor.execute(  # old rows, each from its own transaction as in a real journal
            "INSERT INTO events_event"
            " (xid, op, occurred_at, application_id, object_class_id, record_id, new, old)"
            " SELECT -g, 'create', 0, 1, 1, 'x', '{}', NULL FROM generate_series(1, 20000) g"
        )

        def rows_scanned():
            cursor.execute(
                "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)"
                " FROM pg_stat_xact_user_tables WHERE relname = 'events_event'"
            )
            return cursor.fetchone()[0]

        before = rows_scanned()
        page = journal.read_after(position)
        assert page.rows == [] and not page.waiting
        assert rows_scanned() - before < 100


def test_a_journal_version_becomes_the_record_it_was(reader, create, thing, owner):
    from events.models import record_from_json
    from records.models import Record

    made = create(name="v", tags=["a"])
    (row,) = reader.read()
    stored = Record.objects.get(pk=made.id)
    version = row.new
    columns = [f.attname for f in Record._meta.concrete_fields if f.attname != "application_id"]
    assert all(getattr(version, c) == getattr(stored, c) for c in columns)
    assert version.application_id is None and version._state.adding
    older = {k: v for k, v in row.event.new.items() if k != "parent_id"}  # before a column
    assert record_from_json(older).data == stored.data
    assert record_from_json(older).parent_id is None
