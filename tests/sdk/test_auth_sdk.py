"""The official ConnectyCube JavaScript SDK signs up, opens, reads and ends sessions against
the live server, unchanged (API.md §2)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiSession, ApiUser
from tests.conftest import PASSWORD, make_user, token_for

pytestmark = [pytest.mark.sdk, pytest.mark.django_db(transaction=True)]

NEW = {"login": "dana", "password": "correct-horse-battery", "email": "dana@example.com"}


def test_signup_with_auth_key_then_session_lifecycle(run_sdk, application):
    result = run_sdk(
        """
        const signed = await CB.users.signup({
          login: env.login, password: env.password, email: env.email,
          full_name: "Dana Scully", tags: "officers,doctors",
        });
        const created = await CB.createSession({login: env.login, password: env.password});
        const current = await CB.getSession();
        const fetched = await CB.users.get(signed.user.id);
        const updated = await CB.users.update({full_name: "Dana K. Scully"});
        await CB.destroySession();
        CB.setSession({token: created.token});
        let after = null;
        try { await CB.getSession(); } catch (e) { after = {code: e.code, info: e.info}; }
        return {signed, created, current, fetched, updated, after};
        """,
        **NEW,
    )
    user = ApiUser.objects.get(login="dana")
    assert user.application == application
    assert user.tags == ["officers", "doctors"]
    assert result["signed"]["user"]["id"] == user.pk
    assert result["signed"]["user"]["user_tags"] == "officers,doctors"
    assert result["created"]["user_id"] == user.pk
    assert result["created"]["application_id"] == application.pk
    assert result["current"]["id"] == result["created"]["id"]
    assert result["current"]["user_id"] == user.pk
    assert result["fetched"]["user"]["login"] == "dana"
    assert result["updated"]["user"]["full_name"] == "Dana K. Scully"
    assert result["after"] == {
        "code": 401,
        "info": {"errors": {"base": ["Required session does not exist"]}},
    }
    assert not ApiSession.objects.exists()


def test_signup_with_an_application_session_then_login_and_logout(run_sdk, application):
    result = run_sdk(
        """
        const appSession = await CB.createSession();
        const signed = await CB.users.signup({login: env.login, password: env.password});
        const loggedIn = await CB.login({login: env.login, password: env.password});
        const asUser = await CB.getSession();
        await CB.logout();
        const asApp = await CB.getSession();
        return {appSession, signed, loggedIn, asUser, asApp};
        """,
        **NEW,
    )
    assert result["appSession"]["user_id"] == 0
    user_id = result["signed"]["user"]["id"]
    assert result["loggedIn"]["id"] == user_id
    assert result["asUser"]["user_id"] == user_id
    assert result["asApp"]["user_id"] == 0
    assert result["asApp"]["id"] == result["appSession"]["id"]


def test_wrong_password_is_a_401_the_sdk_reports(run_sdk, application):
    make_user(application, "owner")
    result = run_sdk(
        """
        try { await CB.createSession({login: "owner", password: "not-the-password"}); }
        catch (e) { return {code: e.code, info: e.info}; }
        return "no error";
        """
    )
    assert result == {"code": 401, "info": {"errors": {"base": ["Unauthorized"]}}}
    assert not ApiSession.objects.exists()


def test_email_login(run_sdk, application):
    owner = make_user(application, "owner")
    session = run_sdk(
        'return await CB.createSession({email: "owner@example.com", password: env.password});',
        password=PASSWORD,
    )
    assert session["user_id"] == owner.pk


def test_expired_session_triggers_the_sdk_hook_and_the_retry_works(run_sdk, application):
    owner = make_user(application, "owner")
    token = token_for(application, owner)
    ApiSession.objects.update(updated_at=timezone.now() - timedelta(hours=3))
    result = run_sdk(
        """
        let expiredCalls = 0;
        CB.init({appId: env.appId, token: env.token}, {
          endpoints: {api_url: env.apiUrl}, debug: {mode: 0},
          on: {sessionExpired: async (handleResponse, retry) => {
            expiredCalls += 1;
            retry(await CB.createSession({login: "owner", password: env.password}));
          }},
        });
        const fetched = await CB.users.get(env.userId);
        return {expiredCalls, fetched};
        """,
        token=token,
        userId=owner.pk,
        password=PASSWORD,
    )
    assert result["expiredCalls"] == 1
    assert result["fetched"]["user"]["id"] == owner.pk
