"""Two server processes on one database: what one learns, the other knows on the very next
request. Sessions are checked on every request; class schemas, permissions and user tags
are cached per process, and the schema version read with the session keeps that cache
right (classes.selectors)."""

import json
import urllib.error
import urllib.request

import pytest

from accounts.caller import Caller
from accounts.models import ApiUser, Application
from classes.services import class_update_permissions, field_add
from records import services
from records.models import Record
from tests.conftest import make_user, token_for

from .conftest import make_class


def call(server, method: str, path: str, token: str, body=None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"CB-Token": token, "Content-Type": "application/json"}
    request = urllib.request.Request(server.url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def world(app_servers):
    app = Application.objects.create(name="two nodes")
    klass = make_class(app, name="thing", fields=[("age", "integer")])
    user = make_user(app, "dana")
    nodes = app_servers.start(n=2)
    return app, klass, user, nodes


def statuses(nodes, method, path, token, body=None) -> list[int]:
    return [call(node, method, path, token, body) for node in nodes]


def test_a_session_ended_on_one_node_is_refused_by_the_other_at_once(world):
    app, _, user, (one, two) = world
    token = token_for(app, user)
    assert statuses((one, two), "GET", "/data/thing", token) == [200, 200]
    assert call(one, "DELETE", "/session", token) == 200
    assert statuses((two, one), "GET", "/data/thing", token) == [401, 401]


def test_a_deleted_user_is_refused_by_every_node_at_once(world):
    app, _, user, nodes = world
    token = token_for(app, user)
    assert statuses(nodes, "GET", "/data/thing", token) == [200, 200]
    ApiUser.objects.filter(pk=user.pk).delete()
    assert statuses(nodes, "GET", "/data/thing", token) == [401, 401]


def test_permission_field_and_tag_changes_are_in_force_on_every_node_at_once(world):
    app, klass, user, nodes = world
    token = token_for(app, user)
    class_update_permissions(
        klass=klass, permissions={"create": {"access": "open_for_groups", "groups": ["crew"]}}
    )
    assert statuses(nodes, "POST", "/data/thing", token, {"age": 1}) == [403, 403]

    user.tags = ["crew"]
    user.save()
    assert statuses(nodes, "POST", "/data/thing", token, {"age": 1}) == [201, 201]

    assert statuses(nodes, "POST", "/data/thing", token, {"job": "x"}) == [422, 422]
    field_add(klass=klass, name="job", type="string")
    assert statuses(nodes, "POST", "/data/thing", token, {"job": "x"}) == [201, 201]

    class_update_permissions(klass=klass, permissions={"create": {"access": "not_allowed"}})
    assert statuses(nodes, "POST", "/data/thing", token, {"age": 2}) == [403, 403]


def test_updates_after_the_session_ended_or_the_tags_changed_elsewhere(world):
    """An update on a node that knows the caller is one statement that checks the session
    (config.lane, guarded routes): it sees what another node did at once too."""
    app, klass, user, (one, two) = world
    permissions = {"update": {"access": "open_for_groups", "groups": ["crew"]}}
    mine = services.record_create(caller=Caller.for_user(user), klass=klass, data={"age": 0})
    theirs = services.record_create(
        caller=Caller.for_user(make_user(app, "eve")),
        klass=klass,
        data={"age": 0, "permissions": permissions},
    )
    token = token_for(app, user)
    inc = {"inc": {"age": 1}}
    for _ in range(2):  # the second time each node acts on what it read the first
        assert statuses((one, two), "PUT", f"/data/thing/{mine.pk}", token, inc) == [200, 200]
    assert statuses((one, two), "PUT", f"/data/thing/{theirs.pk}", token, inc) == [403, 403]

    user.tags = ["crew"]
    user.save()
    assert statuses((one, two), "PUT", f"/data/thing/{theirs.pk}", token, inc) == [200, 200]

    assert call(one, "DELETE", "/session", token) == 200
    assert statuses((two, one), "PUT", f"/data/thing/{mine.pk}", token, inc) == [401, 401]
    assert Record.objects.get(pk=mine.pk).data["age"] == 4
    assert Record.objects.get(pk=theirs.pk).data["age"] == 2


def test_a_list_after_the_session_ended_on_another_node_is_refused(world):
    """A list on a node that knows the caller is one statement whose permission gate
    checks the session: a page with records is not answered for a session gone."""
    app, klass, user, (one, two) = world
    services.record_create(caller=Caller.for_user(user), klass=klass, data={"age": 1})
    token = token_for(app, user)
    for _ in range(2):
        assert statuses((one, two), "GET", "/data/thing?count=1", token) == [200, 200]
        assert statuses((one, two), "GET", "/data/thing", token) == [200, 200]
    assert call(one, "DELETE", "/session", token) == 200
    assert statuses((two, one), "GET", "/data/thing", token) == [401, 401]
    assert statuses((two, one), "GET", "/data/thing?count=1", token) == [401, 401]
