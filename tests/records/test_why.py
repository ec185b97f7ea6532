"""GET /data/{class}/{id}/why: the decision the API makes, with the rule that made it."""

import pytest

from .conftest import make_class

OFFICERS_READ = {
    "read": {"access": "open_for_groups", "groups": ["officers"], "use_class_permissions": True}
}


@pytest.fixture
def case(application):
    return make_class(application, "case", [("title", "string")], permissions=OFFICERS_READ)


@pytest.fixture
def record(case, owner_api):
    status, body = owner_api.post(
        "/data/case",
        {"title": "x", "permissions": {"delete": {"access": "open_for_users_ids", "ids": [1]}}},
    )
    assert status == 201, body
    return body["_id"]


def test_the_owner_learns_why_for_another_user(owner_api, owner, member, record):
    status, body = owner_api.get(f"/data/case/{record}/why", {"user_id": member.pk})
    assert status == 200
    assert (body["user_id"], body["session"], body["user_tags"]) == (
        member.pk,
        "user",
        ["officers"],
    )
    read, update, delete = (body["actions"][a] for a in ("read", "update", "delete"))
    assert read["reason"] == (
        "class permission read = open_for_groups [officers]; user has tags [officers] → allowed"
    )
    assert (read["allowed"], read["source"], read["groups"]) == (True, "class", ["officers"])
    assert update["reason"] == (
        f"record permission update = owner; owner is {owner.pk}, user is {member.pk} → denied"
    )
    assert (
        delete["reason"]
        == f"record permission delete = open_for_users_ids [1]; user is {member.pk} → denied"
    )
    assert delete["ids"] == ["1"]


def test_the_answer_is_what_the_api_then_does(api_for, owner_api, member, stranger, record):
    for user in (member, stranger):
        why = owner_api.get(f"/data/case/{record}/why", {"user_id": user.pk})[1]["actions"]
        api = api_for(user)
        assert (api.get(f"/data/case/{record}")[0] == 200) == why["read"]["allowed"]
        status, _ = api.put(f"/data/case/{record}", {"title": "y"})
        assert status in (200, 403) and (status == 200) == why["update"]["allowed"]


def test_an_application_session_and_the_caller_itself(owner_api, owner, record):
    status, body = owner_api.get(f"/data/case/{record}/why.json", {"application_session": "1"})
    assert status == 200
    assert body["session"] == "application" and body["user_id"] is None
    assert not any(d["allowed"] for d in body["actions"].values())
    assert "application session (no user)" in body["actions"]["read"]["reason"]
    mine = owner_api.get(f"/data/case/{record}/why")[1]
    assert mine["user_id"] == owner.pk
    assert mine["actions"]["update"]["allowed"] and not mine["actions"]["read"]["allowed"]


def test_only_the_owner_may_ask(api_for, app_api, owner_api, member, record):
    assert api_for(member).get(f"/data/case/{record}/why")[0] == 403
    assert app_api.get(f"/data/case/{record}/why")[0] == 403
    assert owner_api.get("/data/case/5c09798aca8bf468ab8d2936/why")[0] == 404
    assert owner_api.get("/data/nope/5c09798aca8bf468ab8d2936/why")[0] == 404
    for bad in ("999999", "x", "²"):
        status, body = owner_api.get(f"/data/case/{record}/why", {"user_id": bad})
        assert status == 422
        assert body == {"errors": {"user_id": ["no user of this application has this id"]}}
