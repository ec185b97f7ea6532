"""The official JavaScript SDK against the Custom Objects API: `ConnectyCube.data.*`."""

import pytest

from records.models import Record
from tests.conftest import PASSWORD, make_user
from tests.records.conftest import make_class

pytestmark = pytest.mark.sdk

LOGIN = """
await CB.createSession({login: env.login, password: env.password});
"""


@pytest.fixture
def sdk_user(application):
    make_class(application)
    return make_user(application, "sdkuser", tags=["officers"])


def test_create_list_and_read_permissions(run_sdk, sdk_user):
    result = run_sdk(
        LOGIN
        + """
const one = await CB.data.create("profile", {
  full_name: "Nadine Collier", age: "41", job: "accountant", tags: ["a", "b"],
  permissions: {read: {access: "owner"},
                update: {access: "open_for_users_ids", ids: ["51941", "51943"]}},
});
const many = await CB.data.create("profile", [{age: "11"}, {age: "55", full_name: "Lacey"}]);
const found = await CB.data.list("profile", {age: {gt: 28}, sort_desc: "full_name"});
const counted = await CB.data.list("profile", {count: 1});
const byIds = await CB.data.list("profile", [one._id, many.items[0]._id]);
const perms = await CB.data.readPermissions("profile", one._id);
return {one, many, found, counted, byIds, perms};
""",
        login="sdkuser",
        password=PASSWORD,
    )
    one = result["one"]
    assert one["age"] == 41 and one["user_id"] == sdk_user.pk and one["tags"] == ["a", "b"]
    assert one["permissions"]["update"] == {
        "access": "open_for_users_ids",
        "users_ids": ["51941", "51943"],
    }
    assert result["many"]["class_name"] == "profile"
    assert [r["age"] for r in result["many"]["items"]] == [11, 55]
    assert [r["full_name"] for r in result["found"]["items"]] == ["Nadine Collier", "Lacey"]
    assert result["found"]["limit"] == 100
    assert result["counted"] == {"class_name": "profile", "items_count": 3}
    assert [r["_id"] for r in result["byIds"]["items"]] == [
        one["_id"],
        result["many"]["items"][0]["_id"],
    ]
    assert result["perms"] == {"permissions": one["permissions"], "record_id": one["_id"]}


def test_update_by_id_criteria_and_array(run_sdk, sdk_user):
    result = run_sdk(
        LOGIN
        + """
const a = await CB.data.create("profile", {age: 20, tags: ["x"]});
const b = await CB.data.create("profile", {age: 30});
const byId = await CB.data.update("profile", {_id: a._id, job: "pilot",
                                             inc: {age: 2}, push: {tags: "y"}});
const byCriteria = await CB.data.update("profile", {search_criteria: {age: {gte: 22}},
                                                   country_of_birth: "Iran"});
const multi = await CB.data.update("profile", [{_id: a._id, age: 1},
                                              {_id: b._id, age: "2"},
                                              {_id: "5c0d625aca8bf43a5b8cf111", age: 3}]);
return {byId, byCriteria, multi};
""",
        login="sdkuser",
        password=PASSWORD,
    )
    by_id = result["byId"]
    assert (by_id["job"], by_id["age"], by_id["tags"]) == ("pilot", 22, ["x", "y"])
    assert result["byCriteria"]["total_found"] == 2
    assert {r["country_of_birth"] for r in result["byCriteria"]["items"]} == {"Iran"}
    assert [r["age"] for r in result["multi"]["items"]] == [1, 2]
    assert result["multi"]["not_found"] == {"ids": ["5c0d625aca8bf43a5b8cf111"]}
    assert sorted(r.data["age"] for r in Record.objects.all()) == [1, 2]


def test_delete_by_id_ids_and_criteria(run_sdk, sdk_user):
    result = run_sdk(
        LOGIN
        + """
const made = await CB.data.create("profile", [1, 2, 3, 4, 5, 6].map((age) => ({age})));
const ids = made.items.map((r) => r._id);
const one = await CB.data.delete("profile", ids[0]);
const several = await CB.data.delete("profile", [ids[1], ids[2], "5c0d625aca8bf43a5b8cf111"]);
const byCriteria = await CB.data.delete("profile", {age: {gte: 5}});
let missing = null;
try { await CB.data.delete("profile", ids[0]); } catch (e) { missing = e.code; }
const left = await CB.data.list("profile", {});
return {one, several, byCriteria, missing, left: left.items.map((r) => r.age)};
""",
        login="sdkuser",
        password=PASSWORD,
    )
    assert result["one"] == ""
    assert result["several"]["NotFound"] == {"ids": ["5c0d625aca8bf43a5b8cf111"]}
    assert len(result["several"]["SuccessfullyDeleted"]["ids"]) == 2
    assert result["byCriteria"] == {"total_deleted": 2}
    assert result["missing"] == 404
    assert result["left"] == [4]
