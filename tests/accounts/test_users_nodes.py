"""Deleting a user ends its sessions at once on every server: each request checks its
token against the database, so no server keeps a deleted session alive."""

import json
import urllib.error
import urllib.request

import pytest

from tests.conftest import token_for

pytestmark = pytest.mark.django_db(transaction=True)


def call(method: str, url: str, token: str) -> int:
    request = urllib.request.Request(url, method=method, headers={"CB-Token": token})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read() or b"{}")
        assert exc.code != 401 or body == {"errors": {"base": ["Required session does not exist"]}}
        return exc.code


def test_delete_ends_the_users_sessions_on_every_server(app_servers, application, owner, member):
    one, two = app_servers.start(n=2)
    tokens = [token_for(application, owner) for _ in range(2)]
    bystander = token_for(application, member)
    for server in (one, two):  # each server has served every token once
        for token in [*tokens, bystander]:
            assert call("GET", f"{server.url}/session.json", token) == 200
    assert call("DELETE", f"{one.url}/users/{owner.pk}.json", tokens[0]) == 200
    for server in (one, two):
        for token in tokens:
            assert call("GET", f"{server.url}/users/v2.json?id={owner.pk}", token) == 401
        assert call("GET", f"{server.url}/session.json", bystander) == 200
