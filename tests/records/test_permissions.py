"""The permission matrix (API.md §4): action x level x caller, on every kind of endpoint.

The record is owned by `owner`; `member` carries the tag "officers"; `listed` is the user
a record lists; `stranger` is anyone else; `app` is an application session.
"""

import pytest

from accounts.caller import Caller
from records import services
from records.models import Record
from records.permissions import can, parse_record_permissions, visible_q
from records.query import search

from .conftest import make_class

LEVELS = ["open", "owner", "open_for_groups", "open_for_users_ids"]
CALLERS = ["owner", "member", "listed", "stranger", "app"]
ALLOWED = {
    ("read", "open"): {"owner", "member", "listed", "stranger", "app"},
    ("update", "open"): {"owner", "member", "listed", "stranger"},
    ("delete", "open"): {"owner", "member", "listed", "stranger"},
    "owner": {"owner"},
    "open_for_groups": {"member"},
    "open_for_users_ids": {"listed"},
}
MATRIX = [
    (action, level, who)
    for action in ("read", "update", "delete")
    for level in LEVELS
    for who in CALLERS
]


def allowed(action, level, who) -> bool:
    return who in ALLOWED.get((action, level), ALLOWED.get(level, set()))


def spec(level, listed):
    if level == "open_for_groups":
        return {"access": level, "groups": "officers,assistants"}
    if level == "open_for_users_ids":
        return {"access": level, "ids": f"{listed.pk},999999"}
    return {"access": level}


@pytest.fixture
def cast(api_for, owner, member, listed, stranger):
    users = {"owner": owner, "member": member, "listed": listed, "stranger": stranger}
    apis = {name: api_for(user) for name, user in users.items()}
    apis["app"] = api_for(None)
    return apis


@pytest.fixture
def guarded(profile, owner, listed):
    """guarded(action, level) -> a record owned by `owner` with that level for the action."""

    def build(action, level):
        return services.record_create(
            caller=Caller.for_user(owner),
            klass=profile,
            data={"job": "before", "age": 1, "permissions": {action: spec(level, listed)}},
        )

    return build


def exists(record) -> bool:
    return Record.objects.filter(pk=record.pk).exists()


def job(record) -> str:
    return Record.objects.get(pk=record.pk).data.get("job")


@pytest.mark.parametrize("action, level, who", MATRIX)
def test_single_record_endpoint(cast, guarded, action, level, who):
    record = guarded(action, level)
    api, ok = cast[who], allowed(action, level, who)
    path = f"/data/profile/{record.pk}.json"
    if action == "read":
        status, body = api.get(path)
        assert (status, bool(body.get("items"))) == ((200, True) if ok else (403, False))
    elif action == "update":
        status, _ = api.put(path, {"job": "after"})
        assert (status, job(record)) == ((200, "after") if ok else (403, "before"))
    else:
        status, _ = api.delete(path)
        assert (status, exists(record)) == ((200, False) if ok else (403, True))


@pytest.mark.parametrize("action, level, who", MATRIX)
def test_list_and_criteria_endpoints(cast, guarded, owner, action, level, who):
    record = guarded(action, level)
    guarded("read", "open")  # a second record the criteria do not match
    api, ok = cast[who], allowed(action, level, who)
    if action == "read":
        status, body = api.get("/data/profile.json", {"age": "1", "job": "before"})
        ids = [item["_id"] for item in body["items"]]
        assert status == 200 and (record.pk in ids) == ok
        assert api.get("/data/profile.json", {"count": "1"})[1]["items_count"] == (2 if ok else 1)
        return
    criteria = {"_id": record.pk}
    if who == "app":  # no writes without a user, whatever the level
        assert api.put("/data/profile/by_criteria", {"search_criteria": criteria})[0] == 403
        return
    if action == "update":
        status, body = api.put(
            "/data/profile/by_criteria.json", {"search_criteria": criteria, "job": "after"}
        )
        assert (status, body["total_found"], job(record)) == (
            (200, 1, "after") if ok else (200, 0, "before")
        )
    else:
        status, body = api.delete(
            "/data/profile/by_criteria.json", {"_id": record.pk}, format="multipart"
        )
        assert (status, body["total_deleted"], exists(record)) == (
            (200, 1, False) if ok else (200, 0, True)
        )


@pytest.mark.parametrize("action, level, who", [m for m in MATRIX if m[0] != "read"])
def test_multi_endpoints(cast, guarded, action, level, who):
    record = guarded(action, level)
    missing = "5c0d625aca8bf43a5b8cf111"
    api, ok = cast[who], allowed(action, level, who)
    if who == "app":
        assert api.put("/data/profile/multi", {"record": {"1": {"id": record.pk}}})[0] == 403
        return
    if action == "update":
        status, body = api.put(
            "/data/profile/multi.json",
            {"record": {"1": {"id": record.pk, "job": "after"}, "2": {"id": missing, "age": 2}}},
        )
        assert status == 200
        assert body["not_found"] == {"ids": [missing]}
        assert body["wrong_permissions"] == {"ids": [] if ok else [record.pk]}
        assert [i["_id"] for i in body["items"]] == ([record.pk] if ok else [])
        assert job(record) == ("after" if ok else "before")
    else:
        status, body = api.delete(f"/data/profile/{record.pk},{missing}.json")
        assert status == 200
        assert body == {
            "SuccessfullyDeleted": {"ids": [record.pk] if ok else []},
            "WrongPermissions": {"ids": [] if ok else [record.pk]},
            "NotFound": {"ids": [missing]},
        }
        assert exists(record) is not ok


@pytest.mark.parametrize("action", ["read", "update", "delete"])
@pytest.mark.parametrize("level", LEVELS)
def test_administrator_may_do_everything(profile, guarded, admin_caller, action, level):
    record = guarded(action, level)
    assert can(admin_caller, record, action, profile)
    found = Record.objects.filter(object_class=profile).filter(
        visible_q(admin_caller, profile, action)
    )
    assert list(found.values_list("pk", flat=True)) == [record.pk]


def test_administrator_writes_through_the_services(profile, guarded, admin_caller):
    record = guarded("update", "owner")
    services.record_update(
        caller=admin_caller, klass=profile, record_id=record.pk, changes={"job": "admin"}
    )
    assert job(record) == "admin"
    services.record_delete(caller=admin_caller, klass=profile, record_id=record.pk)
    assert not exists(record)


# --- class permissions ----------------------------------------------------------------------


def restricted_class(application, **permissions):
    return make_class(
        application, name="secret", fields=[("job", "string")], permissions=permissions
    )


def test_class_switch_overrides_record_levels(application, owner, member, stranger, api_for):
    make_class_perms = {
        "read": {
            "access": "open_for_groups",
            "groups": ["officers"],
            "use_class_permissions": True,
        },
        "update": {"access": "not_allowed", "use_class_permissions": True},
        "delete": {
            "access": "open_for_groups",
            "groups": ["officers"],
            "use_class_permissions": True,
        },
    }
    klass = restricted_class(application, **make_class_perms)
    record = services.record_create(caller=Caller.for_user(owner), klass=klass, data={"job": "a"})
    # the record says read open, update/delete owner; the class says otherwise
    assert api_for(stranger).get(f"/data/secret/{record.pk}")[0] == 403
    assert api_for(stranger).get("/data/secret")[1]["items"] == []
    assert api_for(member).get("/data/secret")[1]["items"][0]["_id"] == record.pk
    assert api_for(owner).put(f"/data/secret/{record.pk}", {"job": "b"})[0] == 403
    assert api_for(owner).delete(f"/data/secret/{record.pk}")[0] == 403
    assert api_for(member).delete(f"/data/secret/{record.pk}")[0] == 200


def test_class_switch_off_uses_record_levels(application, owner, stranger, api_for):
    klass = restricted_class(
        application, read={"access": "not_allowed", "use_class_permissions": False}
    )
    record = services.record_create(caller=Caller.for_user(owner), klass=klass, data={"job": "a"})
    assert api_for(stranger).get(f"/data/secret/{record.pk}")[0] == 200


def test_class_owner_level_means_the_record_owner(application, owner, stranger, api_for):
    klass = restricted_class(application, read={"access": "owner", "use_class_permissions": True})
    mine = services.record_create(caller=Caller.for_user(owner), klass=klass, data={"job": "a"})
    services.record_create(caller=Caller.for_user(stranger), klass=klass, data={"job": "b"})
    items = api_for(owner).get("/data/secret")[1]["items"]
    assert [i["_id"] for i in items] == [mine.pk]
    assert api_for(None).get("/data/secret")[1]["items"] == []


@pytest.mark.parametrize(
    "create, who, status",
    [
        ({"access": "open"}, "stranger", 201),
        ({"access": "not_allowed"}, "owner", 403),
        ({"access": "open_for_groups", "groups": ["officers"]}, "member", 201),
        ({"access": "open_for_groups", "groups": ["officers"]}, "stranger", 403),
        ({"access": "open_for_users_ids", "ids": ["LISTED"]}, "listed", 201),
        ({"access": "open_for_users_ids", "ids": ["LISTED"]}, "owner", 403),
        ({"access": "open"}, "app", 403),
    ],
)
def test_create_follows_the_class_create_level(application, cast, listed, create, who, status):
    if "ids" in create:
        create = {**create, "ids": [listed.pk]}
    restricted_class(application, create=create)
    got, _ = cast[who].post("/data/secret.json", {"job": "x"})
    assert got == status
    assert Record.objects.count() == (1 if status == 201 else 0)


def test_administrator_creates_whatever_the_class_says(application, admin_caller):
    klass = restricted_class(application, create={"access": "not_allowed"})
    record = services.record_create(caller=admin_caller, klass=klass, data={"job": "x"})
    assert record.user_id is None


# --- reading and setting permissions --------------------------------------------------------


def test_permissions_view_is_for_the_owner_only(cast, profile, owner, listed):
    status, record = cast["owner"].post(
        "/data/profile.json",
        {
            "full_name": "Jacelyn Millard",
            "age": "25",
            "permissions": {
                "read": {"access": "owner"},
                "update": {"access": "open_for_users_ids", "ids": ["51941", "51943"]},
                "delete": {"access": "open_for_groups", "groups": ["officers", "assistants"]},
            },
        },
    )
    assert status == 201
    expected = {
        "read": {"access": "owner"},
        "update": {"access": "open_for_users_ids", "users_ids": ["51941", "51943"]},
        "delete": {"access": "open_for_groups", "users_groups": ["officers", "assistants"]},
    }
    assert record["permissions"] == expected
    path = f"/data/profile/{record['_id']}.json"
    assert cast["owner"].get(path, {"permissions": "1"}) == (
        200,
        {"permissions": expected, "record_id": record["_id"]},
    )
    assert cast["member"].get(path, {"permissions": "1"})[0] == 403


def test_permissions_from_a_form_body(cast, profile, listed):
    status, body = cast["owner"].post(
        "/data/profile.json",
        {
            "permissions[update][access]": "open_for_users_ids",
            "permissions[update][users_ids]": f"{listed.pk},7",
            "age": "3",
        },
        format="multipart",
    )
    assert status == 201
    assert body["permissions"]["update"] == {
        "access": "open_for_users_ids",
        "users_ids": ["7", str(listed.pk)],
    }
    assert cast["listed"].put(f"/data/profile/{body['_id']}", {"age": 4})[0] == 200


@pytest.mark.parametrize(
    "permissions",
    [
        {"read": {"access": "not_allowed"}},
        {"read": {"access": "everyone"}},
        {"create": {"access": "open"}},
        {"update": {"access": "open_for_users_ids"}},
        {"update": {"access": "open_for_users_ids", "ids": "abc"}},
        {"delete": {"access": "open_for_groups", "groups": []}},
        {"read": {"ids": "1"}},
        "owner",
    ],
)
def test_bad_record_permissions_are_refused(cast, profile, permissions):
    status, body = cast["owner"].post("/data/profile.json", {"age": 1, "permissions": permissions})
    assert status == 422 and "permissions" in body["errors"]
    assert Record.objects.count() == 0


def test_parse_accepts_every_spelling():
    assert parse_record_permissions(
        {
            "read": {"access": "open_for_groups", "user_groups": ["a", "b"]},
            "update": {"access": "open_for_users_ids", "user_ids": [3, "2"]},
            "delete": {"access": "open_for_groups", "users_groups": "x, y"},
        }
    ) == {
        "read_access": "open_for_groups",
        "read_ids": [],
        "read_groups": ["a", "b"],
        "update_access": "open_for_users_ids",
        "update_ids": [2, 3],
        "update_groups": [],
        "delete_access": "open_for_groups",
        "delete_ids": [],
        "delete_groups": ["x", "y"],
    }


def test_only_the_owner_changes_permissions(cast, guarded, profile):
    record = guarded("update", "open")
    status, _ = cast["member"].put(
        f"/data/profile/{record.pk}", {"permissions": {"read": {"access": "owner"}}}
    )
    assert status == 403
    assert Record.objects.get(pk=record.pk).read_access == "open"
    status, body = cast["owner"].put(
        f"/data/profile/{record.pk}", {"permissions": {"read": {"access": "owner"}}}
    )
    assert status == 200 and body["permissions"]["read"] == {"access": "owner"}
    assert cast["member"].get(f"/data/profile/{record.pk}")[0] == 403


def test_list_counts_and_pages_only_visible_records(cast, profile, owner, stranger):
    for i in range(6):
        services.record_create(
            caller=Caller.for_user(owner),
            klass=profile,
            data={"age": i, "permissions": {"read": {"access": "owner" if i % 2 else "open"}}},
        )
    status, body = cast["stranger"].get("/data/profile", {"skip": "1", "limit": "2"})
    assert [i["age"] for i in body["items"]] == [2, 4]
    assert cast["stranger"].get("/data/profile", {"count": "1"})[1]["items_count"] == 3
    assert len(search(profile, {}, Caller.for_user(owner)).records) == 6


def test_owner_reads_permissions_even_when_the_class_hides_the_record(application, owner, api_for):
    klass = restricted_class(
        application,
        read={"access": "open_for_groups", "groups": ["x"], "use_class_permissions": True},
    )
    record = services.record_create(caller=Caller.for_user(owner), klass=klass, data={"job": "a"})
    assert api_for(owner).get(f"/data/secret/{record.pk}")[0] == 403
    status, body = api_for(owner).get(f"/data/secret/{record.pk}", {"permissions": "1"})
    assert status == 200 and body["record_id"] == record.pk


def test_class_lists_stored_as_text_are_split(application, member, stranger, api_for, owner):
    klass = restricted_class(
        application,
        read={
            "access": "open_for_groups",
            "groups": "visitors,officers",
            "use_class_permissions": True,
        },
    )
    services.record_create(caller=Caller.for_user(owner), klass=klass, data={"job": "a"})
    assert len(api_for(member).get("/data/secret")[1]["items"]) == 1
    assert len(api_for(stranger).get("/data/secret")[1]["items"]) == 1
    assert api_for(owner).get("/data/secret")[1]["items"] == []
