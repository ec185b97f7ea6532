"""config.lane.Fold: a get reads its session and its record in one statement, on a guess of
the session's application and schema version that the statement itself confirms; when the
guess is wrong the row is not used and the request is answered as before."""

import pytest

from accounts.models import ApiSession, hash_token
from classes.models import Field
from config import lane
from tests.conftest import make_user, token_for
from tests.records.conftest import make_class
from tests.records.test_lane import _call


def get(token, record_id, class_name="profile"):
    response = _call(token, "GET", f"/data/{class_name}/{record_id}")
    return response.status_code, response.json()


def test_a_deleted_session_is_refused_on_the_next_get(application, owner, create):
    record = create(age=1)
    token = token_for(application, owner)
    assert get(token, record.pk)[0] == 200
    assert get(token, record.pk)[0] == 200  # folded: the guess is known now
    ApiSession.objects.filter(token_hash=hash_token(token)).delete()
    status, body = get(token, record.pk)
    assert status == 401
    assert record.pk not in str(body)


def test_a_class_change_is_seen_at_once(
    application, owner, create, profile, django_assert_num_queries
):
    record = create(age=1)
    token = token_for(application, owner)
    get(token, record.pk)
    Field.objects.create(object_class=profile, name="added", type="string", position=99)
    # the guess is stale: the session (its folded row unused), the class and its fields
    # loaded again, the record
    with django_assert_num_queries(4):
        status, body = get(token, record.pk)
    assert status == 200 and "added" in body["items"][0]
    with django_assert_num_queries(1):
        assert get(token, record.pk)[0] == 200


def test_a_wrong_guess_never_answers_another_applications_record(
    application, other_application, create, owner
):
    mine = create(age=1)  # in `application`'s class "profile"
    make_class(other_application, "profile")
    other = make_user(other_application, "other")
    token = token_for(other_application, other)
    assert get(token, mine.pk)[0] == 404  # warms the other application's class
    assert get(token_for(application, owner), mine.pk)[0] == 200  # and this one's
    lane._applications[hash_token(token)] = application.pk  # a wrong guess
    status, body = get(token, mine.pk)
    assert status == 404
    assert "age" not in str(body)


@pytest.mark.parametrize("who, status", [("owner", 200), ("stranger", 403), ("app", 200)])
def test_permissions_hold_on_a_folded_get(application, owner, stranger, create, who, status):
    record = create(age=1, permissions={"read": {"access": "owner"}})
    open_record = create(age=2)
    token = {
        "owner": token_for(application, owner),
        "stranger": token_for(application, stranger),
        "app": token_for(application),
    }[who]
    get(token, open_record.pk)  # the guess
    got, body = get(token, record.pk if who != "app" else open_record.pk)
    assert got == status
    if status == 403:
        assert "age" not in str(body)
