"""Guarded writes (config.lane, "guarded" routes): once a process has read a token's user
session for an update or a create, the next one of that token is one statement, which
checks the session as it writes (accounts.selectors.session_guard). Whatever changed about the session
since (deleted, touched, another user, new tags, a schema change) and that statement writes
nothing; the request is then done again after reading the session, and answers as it would
have."""

import dataclasses
import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import ApiSession, ApiUser, hash_token
from classes.services import class_update_permissions, field_add
from config import lane
from records.models import Record
from tests.conftest import token_for
from tests.records.test_lane import _call


def inc(token, record_id, by=1, class_name="profile"):
    response = _call(token, "PUT", f"/data/{class_name}/{record_id}", {"inc": {"age": by}})
    return response.status_code, response.json()


def age(record) -> int:
    return Record.objects.get(pk=record.pk).data["age"]


def statements_of(token, record_id) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as sent:
        status, _ = inc(token, record_id)
    return status, [query["sql"] for query in sent.captured_queries]


def test_the_second_update_is_one_statement_that_checks_the_session(application, owner, create):
    record = create(age=1)
    assert inc(token_for(application, owner), record.pk)[0] == 200  # the class is cached now
    token = token_for(application, owner)
    status, first = statements_of(token, record.pk)
    assert status == 200 and len(first) == 2  # the session, the update
    status, second = statements_of(token, record.pk)
    assert status == 200
    assert len(second) == 1
    assert second[0].startswith('UPDATE "records_record"')
    assert "accounts_apisession" in second[0]
    assert age(record) == 4


def test_a_session_deleted_elsewhere_is_refused_and_nothing_is_written(application, owner, create):
    record = create(age=1)
    token = token_for(application, owner)
    assert inc(token, record.pk)[0] == 200
    assert hash_token(token) in lane._callers
    ApiSession.objects.filter(token_hash=hash_token(token)).delete()  # as another node would
    status, body = inc(token, record.pk)
    assert status == 401
    assert age(record) == 2
    assert hash_token(token) not in lane._callers


def test_a_deleted_user_is_refused(application, owner, create):
    record = create(age=1)
    token = token_for(application, owner)
    assert inc(token, record.pk)[0] == 200
    ApiUser.objects.filter(pk=owner.pk).delete()
    assert inc(token, record.pk)[0] == 401
    assert age(record) == 2


def test_new_tags_take_effect_on_the_next_update(application, owner, stranger, create):
    record = create(
        age=1, permissions={"update": {"access": "open_for_groups", "groups": ["crew"]}}
    )
    token = token_for(application, stranger)
    other = create(age=1, user=stranger)
    assert inc(token, other.pk)[0] == 200  # the caller is known now, without tags
    assert inc(token, record.pk)[0] == 403
    stranger.tags = ["crew"]
    stranger.save()
    assert inc(token, record.pk)[0] == 200
    assert age(record) == 2
    stranger.tags = []
    stranger.save()
    assert inc(token, record.pk)[0] == 403
    assert age(record) == 2


def test_a_class_permission_change_takes_effect_on_the_next_update(application, owner, create):
    record = create(age=1)
    token = token_for(application, owner)
    assert inc(token, record.pk)[0] == 200
    klass = record.object_class
    class_update_permissions(
        klass=klass,
        permissions={"update": {"access": "not_allowed", "use_class_permissions": True}},
    )
    assert inc(token, record.pk)[0] == 403
    assert age(record) == 2


def test_a_new_field_is_seen_by_the_next_update(application, owner, create, profile):
    record = create(age=1)
    token = token_for(application, owner)
    assert inc(token, record.pk)[0] == 200
    field_add(klass=profile, name="added", type="integer")
    response = _call(token, "PUT", f"/data/profile/{record.pk}", {"inc": {"added": 5}})
    assert response.status_code == 200
    assert Record.objects.get(pk=record.pk).data["added"] == 5


def test_a_session_touched_elsewhere_is_read_again_and_the_update_done(application, owner, create):
    record = create(age=1)
    token = token_for(application, owner)
    assert inc(token, record.pk)[0] == 200
    later = ApiSession.objects.get(token_hash=hash_token(token)).updated_at
    later += datetime.timedelta(seconds=1)
    ApiSession.objects.filter(token_hash=hash_token(token)).update(updated_at=later)
    status, sent = statements_of(token, record.pk)
    assert status == 200
    assert len(sent) == 3  # the guarded update (nothing written), the session, the update
    assert age(record) == 3
    kept = lane._callers[hash_token(token)]
    assert kept.session.updated_at == later
    assert hash(kept) == hash(dataclasses.replace(kept, guard=None))  # a Caller as any other
    status, sent = statements_of(token, record.pk)
    assert (status, len(sent)) == (200, 1)


def test_a_session_due_its_touch_is_read_and_touched(application, owner, create):
    record = create(age=1)
    token = token_for(application, owner)
    assert inc(token, record.pk)[0] == 200
    # as if this process had read the session five minutes ago
    old = ApiSession.objects.get(token_hash=hash_token(token)).updated_at
    old -= datetime.timedelta(minutes=5)
    ApiSession.objects.filter(token_hash=hash_token(token)).update(updated_at=old)
    lane._callers[hash_token(token)].session.updated_at = old
    status, sent = statements_of(token, record.pk)
    assert status == 200
    assert len(sent) > 2 and "accounts_apisession" in sent[0]  # read first, then touched
    assert ApiSession.objects.get(token_hash=hash_token(token)).updated_at > old
    status, sent = statements_of(token, record.pk)
    assert (status, len(sent)) == (200, 1) and "accounts_apisession" in sent[0]
    assert age(record) == 4


@pytest.mark.parametrize(
    "path, body, status",
    [
        ("/data/profile/ffffffffffffffffffffffff", {"inc": {"age": 1}}, 404),
        ("/data/profile/{other}", {"inc": {"age": 1}}, 403),
        ("/data/profile/{mine}", {"inc": {"age": "x"}}, 422),
        ("/data/profile/{mine}", {"push": {"tags": "b"}}, 200),  # not an in-place change
        ("/data/nothing/{mine}", {"inc": {"age": 1}}, 404),
    ],
)
def test_other_answers_are_the_views_after_a_guess(
    application, owner, stranger, create, path, body, status
):
    mine = create(age=1, tags=["a"])
    other = create(age=1, user=stranger)
    token = token_for(application, owner)
    assert inc(token, mine.pk)[0] == 200
    response = _call(token, "PUT", path.format(mine=mine.pk, other=other.pk), body)
    assert response.status_code == status
    assert Record.objects.get(pk=other.pk).data["age"] == 1
    if status == 200:
        assert Record.objects.get(pk=mine.pk).data["tags"] == ["a", "b"]


def test_a_cb_authkey_header_is_checked_against_the_session_read(application, owner, create):
    record = create(age=1)
    token = token_for(application, owner)
    assert inc(token, record.pk)[0] == 200
    response = _call(
        token, "PUT", f"/data/profile/{record.pk}", {"inc": {"age": 1}}, {"HTTP_CB_AUTHKEY": "x"}
    )
    assert response.status_code == 401
    assert age(record) == 2


def add(token, body, class_name="profile"):
    response = _call(token, "POST", f"/data/{class_name}", body)
    return response.status_code, response.json()


def test_the_second_create_is_one_statement_that_checks_the_session(application, owner, create):
    assert add(token_for(application, owner), {"age": 1})[0] == 201  # the class is cached now
    token = token_for(application, owner)
    with CaptureQueriesContext(connection) as sent:
        assert add(token, {"age": 2})[0] == 201
    assert len(sent) == 2  # the session, the insert
    with CaptureQueriesContext(connection) as sent:
        status, body = add(token, {"age": 3, "tags": ["x"]})
    assert status == 201
    assert len(sent) == 1
    assert sent[0]["sql"].startswith("INSERT INTO records_record")
    assert "accounts_apisession" in sent[0]["sql"]
    record = Record.objects.get(pk=body["_id"])
    assert record.data == {"age": 3, "tags": ["x"]}
    assert record.user_id == owner.pk
    assert record.read_access == "open" and record.update_access == "owner"


def test_a_create_after_the_session_was_deleted_writes_nothing(application, owner, profile):
    token = token_for(application, owner)
    assert add(token, {"age": 1})[0] == 201
    ApiSession.objects.filter(token_hash=hash_token(token)).delete()
    assert add(token, {"age": 2})[0] == 401
    assert [r.data["age"] for r in Record.objects.filter(object_class=profile)] == [1]


def test_new_tags_take_effect_on_the_next_create(application, owner, profile):
    token = token_for(application, owner)
    assert add(token, {"age": 1})[0] == 201
    class_update_permissions(
        klass=profile, permissions={"create": {"access": "open_for_groups", "groups": ["crew"]}}
    )
    assert add(token, {"age": 2})[0] == 403
    owner.tags = ["crew"]
    owner.save()
    assert add(token, {"age": 3})[0] == 201  # the 403 of the old tags, the session read
    with CaptureQueriesContext(connection) as sent:
        assert add(token, {"age": 5})[0] == 201
    assert len(sent) == 1  # the caller with its new tags is the one known now
    owner.tags = []
    owner.save()
    assert add(token, {"age": 4})[0] == 403
    assert sorted(r.data["age"] for r in Record.objects.filter(object_class=profile)) == [1, 3, 5]


def test_a_create_with_a_parent_after_a_guess(application, owner, create):
    parent = create(age=1)
    token = token_for(application, owner)
    assert add(token, {"age": 2})[0] == 201
    status, body = add(token, {"age": 3, "_parent_id": parent.pk})
    assert status == 201
    assert Record.objects.get(pk=body["_id"]).parent_id == parent.pk


def test_without_a_schema_version_row_the_guess_still_holds(application, owner, create):
    """The registered number reads as 0 when its row is gone (tables emptied), in the
    guard as in the session statement."""
    from classes.models import SchemaVersion

    record = create(age=1)
    SchemaVersion.objects.all().delete()
    token = token_for(application, owner)
    assert inc(token, record.pk)[0] == 200
    status, sent = statements_of(token, record.pk)
    assert (status, len(sent)) == (200, 1)
    assert age(record) == 3


def listing(token, query="", class_name="profile"):
    response = _call(token, "GET", f"/data/{class_name}{query}")
    return response.status_code, response.json()


def test_lists_and_counts_read_the_session_even_for_a_known_caller(application, owner, create):
    """A read that found nothing could not tell a session gone from nothing found, and an
    empty search done twice costs twice: reads are not guarded."""
    record = create(age=1)
    token = token_for(application, owner)
    assert inc(token, record.pk)[0] == 200
    assert hash_token(token) in lane._callers  # the caller is known
    for query in ("?sort_asc=age", "?age[gte]=1&count=1"):
        assert listing(token, query)[0] == 200  # the class cached
        with CaptureQueriesContext(connection) as sent:
            assert listing(token, query)[0] == 200
        assert len(sent) == 2 and "accounts_apisession" in sent[0]["sql"]
        assert "accounts_apisession" not in sent[1]["sql"]


def test_a_list_and_a_count_after_the_session_was_deleted_are_refused(application, owner, create):
    create(age=1)
    token = token_for(application, owner)
    assert listing(token)[0] == 200
    assert listing(token, "?count=1")[0] == 200
    ApiSession.objects.filter(token_hash=hash_token(token)).delete()
    for query in ("", "?count=1"):
        status, body = listing(token, query)
        assert status == 401
        assert "items" not in body and "items_count" not in body


def test_a_list_follows_new_and_removed_tags_at_once(application, owner, stranger, create):
    crew = {"read": {"access": "open_for_groups", "groups": ["crew"]}}
    create(age=1, full_name="open")
    create(age=2, full_name="crew only", permissions=crew)
    token = token_for(application, stranger)

    def names():
        status, body = listing(token, "?sort_asc=age")
        assert status == 200
        return [item["full_name"] for item in body["items"]]

    assert names() == ["open"]
    assert names() == ["open"]  # the kept caller's
    stranger.tags = ["crew"]
    stranger.save()
    assert names() == ["open", "crew only"]
    stranger.tags = []
    stranger.save()
    assert names() == ["open"]


@pytest.mark.parametrize(
    "query",
    ["?score[calc]=avg&group_by=active", "?home[near]=10,10;1000", "?age[gte]=1&count=1"],
)
def test_lists_the_sql_module_does_not_write_are_answered_after_reading_the_session(
    application, owner, create, query
):
    create(age=1, score=2.0, active=True, home=[10, 10])
    token = token_for(application, owner)
    assert listing(token)[0] == 200
    status, body = listing(token, query)
    assert status == 200
    assert body.get("items") or body.get("items_count")
    ApiSession.objects.filter(token_hash=hash_token(token)).delete()
    assert listing(token, query)[0] == 401


def test_with_reads_on_a_replica_the_session_is_read_first(application, owner, create, settings):
    create(age=1)
    token = token_for(application, owner)
    assert listing(token)[0] == 200
    settings.REPLICA_FOR_API_READS = True
    with CaptureQueriesContext(connection) as sent:
        assert listing(token)[0] == 200
    assert "accounts_apisession" in sent[0]["sql"] and len(sent) == 2
