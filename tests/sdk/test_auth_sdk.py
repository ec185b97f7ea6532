"""The official ConnectyCube JavaScript SDK signs up, opens, reads and ends sessions against
the live server, unchanged (API.md §2)."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiSession, ApiUser
from tests.conftest import PASSWORD, make_user, token_for

pytestmark = [pytest.mark.sdk, pytest.mark.django_db(transaction=True)]

NEW = {"login": "dana", "password": "correct-horse-battery", "email": "dana@example.com"}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


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


def test_user_deletes_itself(run_sdk, application):
    result = run_sdk(
        """
        await CB.users.signup({login: env.login, password: env.password});
        await CB.createSession({login: env.login, password: env.password});
        await CB.users.delete();
        try { await CB.getSession(); } catch (e) { return {code: e.code}; }
        return "session still alive";
        """,
        **NEW,
    )
    assert result == {"code": 401}
    assert not ApiUser.objects.exists()


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


# The SDK in a browser, on a page of another origin than the API: what a web app does.

BROWSER_PAGE = """<!doctype html><meta charset="utf-8"><title>app</title>
<script src="connectycube.min.js"></script>
<script>
window.signUpAndLogIn = async (env) => {
  const CB = window.ConnectyCube;
  CB.init({appId: env.appId, authKey: env.authKey},
          {endpoints: {api_url: env.apiUrl}, debug: {mode: 0}});
  const signed = await CB.users.signup({login: env.login, password: env.password});
  const session = await CB.createSession({login: env.login, password: env.password});
  const current = await CB.getSession();
  await CB.destroySession();
  return {signed, session, current, origin: location.origin};
};
</script>"""


@pytest.fixture
def web_app_origin(tmp_path):
    """A second local server, on another port (so another origin), serving the web app."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from tests.sdk.conftest import NODE_MODULES

    (tmp_path / "index.html").write_text(BROWSER_PAGE)
    bundle = NODE_MODULES / "connectycube" / "dist" / "connectycube.min.js"
    (tmp_path / "connectycube.min.js").write_bytes(bundle.read_bytes())

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=tmp_path))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _run_in_chromium(url: str, env: dict) -> dict:
    """Open the page and run its function in headless Chromium. In a thread of its own, since
    the browser tests of the console may hold Playwright's loop in this one."""
    from playwright.sync_api import sync_playwright

    def work():
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.goto(url)
                return page.evaluate("env => window.signUpAndLogIn(env)", env)
            finally:
                browser.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result(timeout=120)


@pytest.mark.browser
def test_sdk_in_a_browser_page_of_another_origin(
    live_server, application, web_app_origin, monkeypatch
):
    # The ORM is called below, maybe while a Playwright loop runs in this thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    env = {
        "appId": application.pk,
        "authKey": application.auth_key,
        "apiUrl": live_server.url,
        **NEW,
    }
    result = _run_in_chromium(web_app_origin + "/index.html", env)
    assert result["origin"] != live_server.url
    user = ApiUser.objects.get(login="dana")
    assert result["signed"]["user"]["id"] == user.pk
    assert result["session"]["user_id"] == user.pk
    assert result["current"]["id"] == result["session"]["id"]
    assert not ApiSession.objects.exists()
