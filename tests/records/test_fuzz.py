"""Whatever a client sends to /data, the answer is JSON with a 2xx or a 4xx, never a 500."""

from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import PROFILE_FIELDS

NAMES = [n for n, _ in PROFILE_FIELDS] + [
    "_id",
    "_parent_id",
    "user_id",
    "created_at",
    "nope",
    "age'--",
    "a b",
    "sort_asc",
    "limit",
    "skip",
    "output",
    "group_by",
    "count",
]
OPS = [
    "gt",
    "gte",
    "lt",
    "lte",
    "ne",
    "in",
    "nin",
    "all",
    "or",
    "ctn",
    "near",
    "calc",
    "include",
    "exclude",
    "between",
    "0",
    "",
]
SCALARS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "null",
            "true",
            "1,2",
            "10,20;500",
            "-1",
            "1e400",
            "NaN",
            "2019-09-21",
            "%_\\",
            "avg",
            "age",
            "5c0d625aca8bf43a5b8cf111",
            "999999999999999999999",
        ]
    ),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(OPS + NAMES), inner, max_size=3),
    ),
    max_leaves=6,
)
PARAMS = st.dictionaries(
    st.sampled_from(NAMES + ["inc", "push", "pull", "pop", "permissions"]), VALUES, max_size=4
)
SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def seeded(owner_api, profile):
    status, body = owner_api.post(
        "/data/profile",
        {
            "age": 5,
            "tags": ["a", 1],
            "home": [1, 2],
            "full_name": "x",
            "born": "2019-09-21T21:25:00Z",
            "score": 1.5,
            "active": True,
        },
    )
    assert status == 201
    return body["_id"]


def assert_no_server_error(status, body):
    assert status < 500, body
    if status >= 400:
        assert isinstance(body, dict) and body.get("errors"), body


@SETTINGS
@given(params=PARAMS)
def test_list_never_fails(owner_api, seeded, params):
    assert_no_server_error(*owner_api.get("/data/profile", _flatten(params)))


@SETTINGS
@given(params=PARAMS)
def test_create_and_update_never_fail(owner_api, seeded, params):
    assert_no_server_error(*owner_api.post("/data/profile", params))
    assert_no_server_error(*owner_api.put(f"/data/profile/{seeded}", params))
    assert_no_server_error(
        *owner_api.put("/data/profile/by_criteria", {"search_criteria": params, "age": 1})
    )
    assert_no_server_error(*owner_api.delete(f"/data/profile/by_criteria?{urlencode(params)}"))


def _flatten(params, prefix=""):
    """Nested params -> bracket pairs for a query string (what a form client sends)."""
    pairs = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            pairs.extend(_flatten(value, name).items())
        elif isinstance(value, list):
            pairs.append((f"{name}[]", [str(v) for v in value if not isinstance(v, dict | list)]))
        else:
            pairs.append((name, "null" if value is None else str(value)))
    return dict(pairs)
