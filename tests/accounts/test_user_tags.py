"""accounts_usertag, the tag index the users search counts with, follows every write of
users (it is kept by database triggers), and counting through it answers what counting
the users does."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import ApiUser, UserTag
from accounts.user_query import users_v1, users_v2
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def index_of(application, *extra):
    rows = UserTag.objects.filter(application_id=application.pk)
    return sorted(rows.values_list("tag", "user_id", *extra))


def from_users(application, *extra):
    return sorted(
        (tag, user.pk, *(getattr(user, name) for name in extra))
        for user in ApiUser.objects.filter(application=application) for tag in user.tags
    )  # fmt: skip


def test_the_index_follows_every_write(application, owner_api, owner, other_application):
    member = make_user(application, "member", tags=["officers", "pilots"])
    make_user(other_application, "elsewhere", tags=["officers"])
    owner_api.put(f"/users/{owner.pk}", {"user": {"tags": "officers,doctors"}})
    ApiUser.objects.filter(pk=member.pk).update(tags=["pilots"])  # SQL, not the API
    ApiUser.objects.filter(pk=owner.pk).update(full_name="unrelated change")
    ApiUser.objects.filter(pk=member.pk).update(created_at="2001-02-03T04:05:06Z")
    assert index_of(application, "created_at") == from_users(application, "created_at")
    assert index_of(application) == sorted(
        [("officers", owner.pk), ("doctors", owner.pk), ("pilots", member.pk)]
    )
    with connection.cursor() as cursor:  # raw SQL too
        cursor.execute("DELETE FROM accounts_apiuser WHERE id = %s", [member.pk])
    owner_api.delete(f"/users/{owner.pk}")
    assert index_of(application) == []
    assert index_of(other_application) == from_users(other_application) != []


@pytest.fixture
def tagged(application):
    tags = [["a"], ["a", "b"], ["b"], ["b", "c"], ["a", "c"], [], ["c"]]
    for n, user_tags in enumerate(tags * 3):
        make_user(application, f"user{n}", tags=user_tags)


@pytest.mark.parametrize(
    "params",
    [{"user_tags": "a"}, {"user_tags": {"in": ["a", "b"]}},
     {"user_tags": {"in": ["a", "b"], "nin": ["c"]}}, {"user_tags": {"in": ["c"], "nin": ["a", "b"]}},
     {"user_tags": "a", "created_at": {"gt": "2000-01-01"}},
     {"user_tags": {"in": ["a", "c"]}, "created_at": {"lt": "2100-01-01"}},
     {"user_tags": "a", "last_request_at": {"gt": "2000-01-01"}},
     {"user_tags": "a", "login": "user0"}],
)  # fmt: skip
def test_counting_by_the_tag_index_equals_counting_users(application, tagged, params):
    # limit 1 so the count is not the page's own length
    with CaptureQueriesContext(connection) as queries:
        _, total, _ = users_v2(application.pk, {**params, "limit": "1"}, hide_contacts=True)
    by_index = any("accounts_usertag" in q["sql"] for q in queries.captured_queries)
    # tags and created_at only: the index
    assert by_index == (set(params) <= {"user_tags", "created_at"})
    users = ApiUser.objects.filter(application=application)
    tags = params["user_tags"]
    for name, value in params.items():
        if name == "login":
            users = users.filter(login=value)
        elif name != "user_tags":
            ((op, moment),) = value.items()
            users = users.filter(**{f"{name}__{op}": f"{moment}T00:00:00Z"})
    if isinstance(tags, str):
        users = users.filter(tags__contains=[tags])
    else:
        users = users.filter(tags__overlap=tags["in"])
        if "nin" in tags:
            users = users.exclude(tags__overlap=tags["nin"])
    assert total == users.count()


def test_v1_counts_by_the_index_too(application, tagged):
    _, total, _ = users_v1(
        application.pk, {"filter": ["string user_tags ne c", "string user_tags in a,b"],
                         "per_page": "1"}, hide_contacts=True,
    )  # fmt: skip
    users = ApiUser.objects.filter(application=application, tags__overlap=["a", "b"])
    assert total == users.exclude(tags__overlap=["c"]).count()
