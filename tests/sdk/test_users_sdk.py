"""The official ConnectyCube JavaScript SDK's user calls against the live server: getV2,
the v1 get with its filters and by_* routes, update, delete, resetPassword, listOnline and
getOnlineCount."""

import re

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import ApiSession, ApiUser
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.sdk, pytest.mark.django_db(transaction=True)]

LOGIN = """
await CB.createSession({login: env.login, password: env.password});
"""


@pytest.fixture
def crowd(application):
    users = {
        "dacia": make_user(application, "dacia", tags=["accountant"]),
        "gabby": make_user(application, "gabby", tags=["vip", "accountant"]),
        "smith1": make_user(application, "smith1", tags=["guest"]),
        "smith2": make_user(application, "smith2", tags=["guest", "vip"]),
    }
    ApiUser.objects.filter(pk=users["dacia"].pk).update(
        external_user_id=52691165, full_name="Dacia Kail", phone="+6110797757"
    )
    ApiUser.objects.filter(pk__in=[users["smith1"].pk, users["gabby"].pk]).update(
        last_request_at=timezone.now()
    )
    return users


def test_get_v2_update_online_and_reset(run_sdk, application, crowd):
    ids = {name: user.pk for name, user in crowd.items()}
    result = run_sdk(
        LOGIN
        + """
        const byIds = await CB.users.getV2({id: {in: [env.ids.dacia, env.ids.gabby]},
                                            sort_desc: "id", limit: 10});
        const tagged = await CB.users.getV2({user_tags: "guest", login: {nin: ["smith2"]}});
        const prefix = await CB.users.getV2({login: {start_with: "smit"}});
        let refused = null;
        try { await CB.users.getV2({login: {nin: ["admin19"]}}); }
        catch (e) { refused = {code: e.code, info: e.info}; }
        const updated = await CB.users.update({
          website: "dacia.example.com", timezone: 180, custom_data: "note",
          tag_list: ["accountant", "vip"], phone: "+6110797758",
        });
        const online = await CB.users.listOnline({limit: 10});
        const count = await CB.users.getOnlineCount();
        const reset = await CB.users.resetPassword("gabby@example.com");
        return {byIds, tagged, prefix, refused, updated, online, count, reset};
        """,
        login="dacia",
        password=PASSWORD,
        ids=ids,
    )
    assert [u["id"] for u in result["byIds"]["items"]] == [ids["gabby"], ids["dacia"]]
    assert result["byIds"]["limit"] == 10 and result["byIds"]["total_entries"] == 2
    assert [u["login"] for u in result["tagged"]["items"]] == ["smith1"]
    assert result["prefix"]["limit"] == 5 and result["prefix"]["total_entries"] == 2
    assert result["refused"]["code"] == 422
    assert "stand-alone field" in result["refused"]["info"]["errors"]["base"][0]
    user = result["updated"]["user"]
    assert (user["website"], user["timezone"], user["custom_data"], user["user_tags"]) == (
        "http://dacia.example.com", 180, "note", "accountant,vip",
    )  # fmt: skip
    assert user["phone"] == "+6110797758"  # its own user: the phone is shown
    # dacia just logged in, smith1 and gabby were seen a moment ago
    assert {u["login"] for u in result["online"]["users"]} == {"dacia", "gabby", "smith1"}
    assert result["count"] == {"count": 3}
    assert result["reset"] == ""
    (message,) = mail.outbox
    assert message.to == ["gabby@example.com"]
    assert re.search(r"/users/password/reset/\S+/\S+", message.body)


def test_get_v1_with_filters_and_by_routes(run_sdk, application, crowd):
    application.users_api_v1 = True
    application.save()
    result = run_sdk(
        LOGIN
        + """
        const filtered = await CB.users.get({
          filter: [{field: "id", param: "gt", value: env.first},
                   {field: "login", param: "in", value: ["gabby", "smith2"]}],
          order: {field: "login", sort: "desc"}, per_page: 10,
        });
        const dates = await CB.users.get({filter: {field: "created_at", param: "gt",
                                                   value: "2000-01-01"}, per_page: 2});
        const byLogin = await CB.users.get({login: "gabby"});
        const byEmail = await CB.users.get({email: "smith1@example.com"});
        const byName = await CB.users.get({full_name: "Dacia Kail"});
        const byTags = await CB.users.get({tags: ["vip"]});
        const external = await CB.users.get({external: 52691165});
        const byId = await CB.users.get(env.first);
        return {filtered, dates, byLogin, byEmail, byName, byTags, external, byId};
        """,
        login="smith1",
        password=PASSWORD,
        first=crowd["dacia"].pk,
    )
    assert [i["user"]["login"] for i in result["filtered"]["items"]] == ["smith2", "gabby"]
    assert result["dates"]["per_page"] == 2 and result["dates"]["total_entries"] == 4
    assert result["byLogin"]["user"]["id"] == crowd["gabby"].pk
    assert result["byEmail"]["user"]["email"] == "smith1@example.com"  # its own
    assert [i["user"]["login"] for i in result["byName"]["items"]] == ["dacia"]
    assert [i["user"]["login"] for i in result["byTags"]["items"]] == ["gabby", "smith2"]
    assert result["external"]["user"]["login"] == "dacia"
    assert result["external"]["user"]["phone"] is None  # another user's contacts are hidden
    assert result["byId"]["user"]["login"] == "dacia"


def test_get_v1_is_refused_while_the_setting_is_off(run_sdk, crowd):
    result = run_sdk(
        LOGIN
        + """
        try { await CB.users.get({login: "gabby"}); return null; }
        catch (e) { return {code: e.code, info: e.info}; }
        """,
        login="dacia",
        password=PASSWORD,
    )
    assert result["code"] == 403
    assert "list users API v1" in result["info"]["errors"]["base"][0]


def test_delete_own_user(run_sdk, crowd):
    result = run_sdk(
        LOGIN
        + """
        const deleted = await CB.users.delete();
        let after = null;
        try { await CB.getSession(); } catch (e) { after = e.code; }
        return {deleted, after};
        """,
        login="gabby",
        password=PASSWORD,
    )
    assert result == {"deleted": "", "after": 401}
    assert not ApiUser.objects.filter(login="gabby").exists()
    assert not ApiSession.objects.filter(user_id=crowd["gabby"].pk).exists()
