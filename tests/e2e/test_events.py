"""A browser's EventSource, served by the production server, sees a record created through
the API."""

import json

import httpx
import pytest

from tests.conftest import token_for
from tests.records.conftest import make_class
from tests.servers import app_servers  # noqa: F401

pytestmark = pytest.mark.browser


def test_event_source_sees_a_record_created_through_the_api(
    browser,
    app_servers,  # noqa: F811
    application,
    owner,
):
    make_class(application, name="thing", fields=[("name", "string")])
    [server] = app_servers.start(n=1)
    token = token_for(application, owner)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(server.url + "/health/live")
        page.evaluate(
            """(token) => {
                window.received = [];
                window.opened = false;
                const source = new EventSource(
                    `/data/thing/events.json?token=${encodeURIComponent(token)}`);
                source.onopen = () => { window.opened = true; };
                source.addEventListener("create", (e) => window.received.push(
                    {id: e.lastEventId, data: JSON.parse(e.data)}));
            }""",
            token,
        )
        page.wait_for_function("window.opened === true", timeout=10_000)
        response = httpx.post(
            server.url + "/data/thing.json",
            json={"name": "from the API"},
            headers={"CB-Token": token},
            timeout=10,
        )
        assert response.status_code == 201
        page.wait_for_function("window.received.length === 1", timeout=10_000)
        [event] = json.loads(page.evaluate("JSON.stringify(window.received)"))
    finally:
        context.close()
    assert event["data"]["class_name"] == "thing"
    assert event["data"]["record"]["_id"] == response.json()["_id"]
    assert event["data"]["record"]["name"] == "from the API"
    assert event["id"]  # the position EventSource sends back as Last-Event-ID
