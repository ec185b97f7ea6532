"""records.models.new_record: the Record a create stores, made without Model.__init__."""

from records.models import Record, new_record
from records.query.rows import insert


def _columns(record):
    return {f.attname: getattr(record, f.attname) for f in Record._meta.concrete_fields}


def test_a_new_record_is_what_record_init_makes(profile):
    given = {
        "id": "a" * 24,
        "application_id": profile.application_id,
        "user_id": 7,
        "created_at": 5,
        "updated_at": 5,
        "data": {"name": "x"},
        "read_access": "owner",
    }
    made, expected = new_record(profile, **given), Record(object_class=profile, **given)
    assert _columns(made) == _columns(expected)
    assert made._state.adding and made._state.db is None


def test_new_records_do_not_share_their_lists(profile):
    first, second = new_record(profile, id="b" * 24), new_record(profile, id="c" * 24)
    first.read_ids.append(1)
    assert second.read_ids == []


def test_a_new_record_knows_its_class_and_is_stored_whole(profile, django_assert_num_queries):
    record = new_record(
        profile,
        id="d" * 24,
        application_id=profile.application_id,
        created_at=1,
        updated_at=1,
        data={"name": "y"},
    )
    with django_assert_num_queries(0):
        assert record.object_class is profile
    insert(record)
    stored = Record.objects.get(pk="d" * 24)
    assert _columns(stored) == _columns(record)
    assert stored.update_access == "owner" and stored.read_groups == []
