"""records.query.sql writes the ORM's statement, and its answers are the ORM's.

For every operator on every field type it applies to, the `or` group, sorting, skip and
limit, and every permission level (record levels, class levels, application sessions,
console administrators), the statement written by `sql` is compared with the one the ORM
compiles from compile.py's queryset (as PostgreSQL would get each with its values in the
text: `sql` writes the class id into its text, the ORM sends it as a parameter), and both
are run.
"""

import psycopg
import pytest
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.test.utils import CaptureQueriesContext
from psycopg.types.json import Jsonb

from accounts.caller import Caller
from records.models import Record
from records.query import count_up_to, matching, parse, search, sql
from records.query.compile import filtered, ordered
from records.query.parse import CONTROL_KEYS
from records.query.rows import records_of
from tests.conftest import make_user

from .conftest import make_class

# request parameters over the `profile` class of conftest.py (one field of every type)
CASES = [
    {},
    {"age": {"gte": "3", "lt": "50"}, "sort_asc": "age", "limit": "20"},
    {"age": "5"},
    {"age": "null"},
    {"age": {"ne": "5"}},
    {"age": {"ne": "null"}},
    {"age": {"gt": "3000000000"}},
    {"age": {"lte": "3000000000"}},
    {"age": {"in": "5,41,5,null"}},
    {"age": {"in": "5,41"}},
    {"age": {"nin": "5,null"}},
    {"age": {"nin": "5,41"}},
    {"age": ["5", "41"]},
    {"age": {"ctn": "4"}},
    {"score": {"gt": "-1.5"}, "sort_desc": "score"},
    {"score": {"in": "1.5,-2"}},
    {"full_name": {"ctn": "%_"}},
    {"full_name": {"ctn": "NADINE"}},
    {"full_name": {"ctn": "\\"}},
    {"full_name": {"gte": "N"}, "sort_asc": "full_name"},
    {"full_name": {"ne": "nadine"}},
    {"active": "true"},
    {"active": "false"},
    {"active": {"ne": "true"}},
    {"active": {"in": "true,null"}},
    {"born": {"gt": "2020-01-01"}, "sort_desc": "born"},
    {"born": "2020-05-01T00:00:00Z"},
    {"tags": "5"},
    {"tags": "b"},
    {"tags": "null"},
    {"tags": {"ne": "a"}},
    {"tags": {"all": "a,5"}},
    {"tags": ["a", "5"]},
    {"tags": {"in": "b,2.5"}},
    {"tags": {"in": "b,null"}},
    {"tags": {"nin": "a"}},
    {"tags": {"nin": "a,null"}},
    {"home": "1.5,2.5"},
    {"age": {"or": "5,41"}, "job": {"or": "dev"}},
    {"age": {"or": "null"}, "tags": {"or": "b"}, "active": "true"},
    {"_id": {"ne": "0" * 24}, "user_id": {"gt": "0"}, "created_at": {"gt": "1"}},
    {"_parent_id": "null", "updated_at": {"lte": "9999999999"}},
    {"_id": {"ctn": "0"}, "user_id": {"ctn": "1"}},
    {"sort_desc": "age,job", "skip": "1", "limit": "3"},
    {"sort_asc": "age", "sort_desc": "_id", "limit": "4"},
    {"sort_asc": "_id,age", "limit": "2"},
    {"sort_desc": "created_at", "limit": "-1"},
    {"sort_asc": "job", "limit": "-1", "skip": "2"},
    {"limit": "-1"},
    {"limit": "0"},
    {"skip": "3"},
    {"skip": "100", "limit": "5"},
    {"count": "1"},
    {"count": "1", "tags": {"nin": "a"}},
    {"count": "1", "age": {"gt": "3000000000"}},
]

COLUMNS = [f.attname for f in Record._meta.concrete_fields]


def plain(params) -> list:
    """Parameters compared by value and kind: the ORM's Int4/Int8 are ints, a Jsonb is
    its object."""
    return [
        ("jsonb", p.obj) if isinstance(p, Jsonb) else (int if isinstance(p, int) else type(p), p)
        for p in params
    ]


def rows(records) -> list[dict]:
    return [{name: getattr(r, name) for name in COLUMNS} for r in records]


@pytest.fixture
def world(application, profile, owner, member, create):
    """Records of every shape (missing fields, JSON nulls, mixed arrays, 64-bit integers)
    under every read level, and the callers that see different parts of them."""
    listed = make_user(application, "listed")
    stranger = make_user(application, "stranger", tags=["visitors", "officers2"])
    levels = [
        {"access": "open"},
        {"access": "owner"},
        {"access": "open_for_users_ids", "users_ids": [str(listed.pk), str(member.pk)]},
        {"access": "open_for_groups", "users_groups": ["officers", "visitors"]},
    ]
    shapes = [
        dict(full_name="Nadine Collier", age=41, job="dev", score=1.5, active=True),
        dict(full_name="100%_sure\\", age=3000000000, score=-2.0, active=False, tags=["b"]),
        dict(full_name="nadine", age=5, tags=["a", 5, "5", 2.5], home=[1.5, 2.5]),
        dict(born="2020-05-01T00:00:00Z", tags=[], home=[-1, 0], job="ops"),
        dict(age=-7, score=0.0, tags=["a", "b", True], active=True, born="2019-01-01"),
        dict(),
    ]
    made = []
    for index in range(24):
        author = (owner, member, stranger)[index % 3]
        permissions = {
            "read": levels[index % 4],
            "update": levels[(index + 1) % 4],
            "delete": levels[(index + 2) % 4],
        }
        made.append(create(user=author, permissions=permissions, **shapes[index % 6]))
    # JSON nulls, as another client or an import may have stored them
    Record.objects.filter(pk=made[5].pk).update(data={"age": None, "tags": None, "home": None})
    admin = Caller.admin(application)
    app = Caller(application=application)
    users = [Caller.for_user(u) for u in (owner, member, listed, stranger)]
    return {"callers": [admin, app, *users], "records": made}


def orm_answer(klass, query, caller):
    """What search() answered before, through the ORM: a count, or a page of rows."""
    queryset = filtered(klass, query, caller)
    if query.count:
        return queryset.count()
    queryset = ordered(klass, query, queryset)
    if query.last:
        return rows(records_of(queryset.reverse()[:1]))
    return rows(records_of(queryset[query.skip : query.skip + query.limit]))


def written_answer(klass, params, caller):
    result = search(klass, params, caller)
    return result.count if result.count is not None else rows(result.records)


def sent(run) -> tuple[list[str], object]:
    """(the statements `run` sent, parameters filled in as PostgreSQL got them; its answer)"""
    with CaptureQueriesContext(connection) as captured:
        answer = run()
    return [q["sql"] for q in captured.captured_queries], answer


def filled(statement: tuple[str, list]) -> str:
    """A statement as Django sends it, its parameters written into the text. (`sql`'s are
    sent apart from theirs, so a captured statement shows only placeholders.)"""
    connection.ensure_connection()
    return psycopg.ClientCursor(connection.connection).mogrify(*statement)


def written_statements(klass, query, caller) -> list[str]:
    """The statement search() sends for `query`, filled in (none when it can find nothing)."""
    try:
        statement = (sql.count_sql if query.count else sql.page_sql)(klass, query, caller)
    except EmptyResultSet:
        return []
    return [filled(statement)]


@pytest.mark.parametrize("params", CASES, ids=[str(i) for i in range(len(CASES))])
def test_the_statement_and_the_answer_are_the_orms(profile, world, params):
    query = parse(profile, params)
    assert sql.supports(query)
    for caller in world["callers"]:
        theirs, their_answer = sent(lambda c=caller: orm_answer(profile, query, c))
        assert written_statements(profile, query, caller) == theirs
        assert written_answer(profile, params, caller) == their_answer
        criteria = {k: v for k, v in params.items() if k not in CONTROL_KEYS}
        theirs = filtered(profile, parse(profile, criteria, criteria_only=True), caller)
        assert list(matching(profile, criteria, caller, "read")) == list(theirs.order_by("id"))


def test_the_cases_cover_every_operator_and_see_different_records(profile, world):
    ops = {term.op for params in CASES for term in parse(profile, params).terms}
    assert ops == set(sql.CONDITIONS)
    callers = world["callers"]
    counts = {search(profile, {**p, "count": "1"}, callers[0]).count for p in CASES}
    assert len(counts) > 5  # the data set tells the conditions apart
    assert len({search(profile, {"count": "1"}, c).count for c in callers}) == len(callers)


@pytest.mark.parametrize("action", ["read", "update", "delete"])
def test_every_action_and_class_level_gates_as_the_orm(application, owner, member, world, action):
    classes = [make_class(application, name="plain", fields=[("age", "integer")])]
    for level in ("open", "owner", "open_for_groups", "open_for_users_ids"):
        spec = {"access": level, "use_class_permissions": True}
        spec.update(groups="officers,x", ids=f"{member.pk}")
        classes.append(
            make_class(
                application,
                name=f"c_{level}",
                fields=[("age", "integer")],
                permissions={action: spec},
            )
        )
    for klass in classes:
        for i in range(3):
            Record.objects.create(
                id=f"{klass.pk:012d}{i:012d}",
                application=application,
                object_class=klass,
                user_id=(owner.pk, member.pk, None)[i],
                created_at=1,
                updated_at=1,
                data={"age": i},
            )
        query = parse(klass, {"age": {"gte": "0"}}, criteria_only=True)
        for caller in world["callers"]:
            try:
                theirs = filtered(klass, query, caller, action).values("id").query
                theirs = theirs.sql_with_params()
            except EmptyResultSet:
                theirs = None
            try:
                ours = sql.select_ids(klass, query, caller, action)
            except EmptyResultSet:
                ours = None
            if theirs is None or ours is None:
                assert ours == theirs
                continue
            assert filled(ours) == filled(theirs)
            assert plain(ours[1]) == plain(theirs[1][1:])  # the class is in our text
        for caller in world["callers"]:
            orm = filtered(klass, query, caller, action).order_by("id")
            assert list(matching(klass, {"age": {"gte": "0"}}, caller, action)) == list(orm)


def test_count_up_to_counts_what_a_list_finds(profile, world):
    for caller in world["callers"]:
        for params in ({}, {"tags": {"nin": "a"}}, {"age": {"gte": "0"}}):
            found = search(profile, {**params, "count": "1"}, caller).count
            assert count_up_to(profile, params, caller, 1000) == found
            assert count_up_to(profile, params, caller, 2) == min(found, 2)


def test_near_and_aggregates_stay_with_the_orm(profile, world):
    admin = world["callers"][0]
    near = {"home": {"near": "1.5,2.5;1000"}}
    assert not sql.supports(parse(profile, near))
    assert [r.data["home"] for r in search(profile, near, admin).records] == [[1.5, 2.5]] * 4
    calc = {"age": {"calc": "max"}}
    assert not sql.supports(parse(profile, calc))
    assert search(profile, calc, admin).groups == [{"age": {"max": 3000000000}}]


def test_integers_beyond_32_bits_compare_as_integers(profile, create, owner):
    """An Integer field holds 64 bits: `age=3000000000` finds the record and
    `age[lt]=3000000000` leaves out records without an age, on the ORM's path too."""
    caller = Caller.for_user(owner)
    big = create(age=3_000_000_000)
    create(age=1)
    create(job="no age")
    for params, expected in (
        ({"age": "3000000000"}, 1),
        ({"age": {"gte": "3000000000"}}, 1),
        ({"age": {"lt": "3000000000"}}, 1),
        ({"age": {"gt": "2999999999"}}, 1),
    ):
        query = parse(profile, params)
        assert filtered(profile, query, caller).count() == expected
        assert search(profile, {**params, "count": "1"}, caller).count == expected
    assert [r.pk for r in search(profile, {"age": "3000000000"}, caller).records] == [big.pk]
