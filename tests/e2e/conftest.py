"""Browser tests of the console: one headless Debian Chromium per session, one fresh
context (cookies) per test, against pytest-django's live server.

`SCREENSHOTS=1` makes the tests save the main screens into docs/screenshots/."""

import os
from pathlib import Path

import pytest

# The sync Playwright API runs an event loop in this thread; Django's ORM refuses that
# unless told it is safe (the live server runs in its own thread anyway).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
OPERATOR_PASSWORD = "operator-password-1"


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail("Chromium is needed at /usr/bin/chromium (make chromium installs it)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def operator(transactional_db, django_user_model):
    return django_user_model.objects.create_user(
        "operator", "operator@example.com", OPERATOR_PASSWORD, is_staff=True, is_superuser=True
    )


def log_in(page, username, password):
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")


@pytest.fixture
def new_page(browser, live_server):
    """new_page() -> a page in a fresh browser context (its own cookies)."""
    contexts = []

    def build():
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 1280, "height": 800}, accept_downloads=True
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield build
    for context in contexts:
        context.close()


@pytest.fixture
def console(new_page, operator):
    """A page logged in as a staff operator, on the console's front page."""
    page = new_page()
    log_in(page, "operator", OPERATOR_PASSWORD)
    page.wait_for_selector("#user-tools")
    return page


@pytest.fixture
def shot():
    """shot(page, name): saves docs/screenshots/<name>.png when SCREENSHOTS=1."""

    def take(page, name, *, full_page=False):
        if os.environ.get("SCREENSHOTS") == "1":
            SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
            page.evaluate("document.activeElement && document.activeElement.blur()")
            size = page.viewport_size
            if full_page:  # a tall window rather than a stitched page: the sidebar is sticky
                height = page.evaluate("document.documentElement.scrollHeight")
                page.set_viewport_size({"width": size["width"], "height": height})
            page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"))
            page.set_viewport_size(size)

    return take
