"""The query compiler against the real database, table-driven: parameters as a client sends
them (strings, bracket-parsed) -> the records found, in order."""

import pytest

from accounts.caller import Caller
from records.query import QueryError, search

PEOPLE = [
    # name, fields
    (
        "Nadine",
        dict(
            age=41,
            job="accountant",
            country_of_birth="Germany",
            score=4.5,
            active=True,
            tags=["a", "b"],
            home=[13.40, 52.52],
            born="2019-09-21T21:25:00Z",
        ),
    ),
    (
        "Lacey",
        dict(
            age=25,
            job="secretary",
            country_of_birth="Sweden",
            score=3.0,
            active=False,
            tags=["b", "c"],
            home=[18.07, 59.33],
            born="1990-01-01T00:00:00Z",
        ),
    ),
    (
        "Zach",
        dict(
            age=50,
            job="Operation officer",
            country_of_birth="India",
            tags=[1, "x"],
            home=[2.35, 48.86],
        ),
    ),
    (
        "jacelyn",
        dict(job="100% sure_thing", country_of_birth="India", score=9.25, active=True, tags=[]),
    ),
    (
        "Émile",
        dict(
            age=41,
            job="ACCOUNTANT",
            country_of_birth="France",
            score=-1.5,
            home=[2.36, 48.87],
            born="2019-09-22T00:00:00Z",
        ),
    ),
]


@pytest.fixture
def people(create, owner):
    return {name: create(full_name=name, **fields) for name, fields in PEOPLE}


def names(profile, params, caller):
    result = search(profile, params, caller)
    return [r.data.get("full_name") for r in result.records]


CASES = [
    ({}, ["Nadine", "Lacey", "Zach", "jacelyn", "Émile"]),
    # equality, coerced to the field's type
    ({"age": "41"}, ["Nadine", "Émile"]),
    ({"score": "4.5"}, ["Nadine"]),
    ({"active": "true"}, ["Nadine", "jacelyn"]),
    ({"active": "0"}, ["Lacey"]),
    ({"job": "accountant"}, ["Nadine"]),
    ({"born": "2019-09-21 21:25:00"}, ["Nadine"]),
    ({"born": "1569101100"}, ["Nadine"]),
    ({"home": "13.4,52.52"}, ["Nadine"]),
    ({"tags": "b"}, ["Nadine", "Lacey"]),
    ({"tags": "1"}, ["Zach"]),  # a form's "1" matches the stored number 1
    ({"age": "null"}, ["jacelyn"]),
    ({"score": "null"}, ["Zach"]),
    # comparisons
    ({"age": {"gt": "28"}}, ["Nadine", "Zach", "Émile"]),
    ({"age": {"gte": "41", "lt": "50"}}, ["Nadine", "Émile"]),
    ({"age": {"lte": "25"}}, ["Lacey"]),
    ({"score": {"lt": "0"}}, ["Émile"]),
    ({"score": {"gte": "4.5"}}, ["Nadine", "jacelyn"]),
    ({"born": {"gt": "2019-09-21T21:25:00Z"}}, ["Émile"]),
    ({"born": {"lt": "2000-01-01"}}, ["Lacey"]),
    ({"full_name": {"lt": "a"}}, ["Nadine", "Lacey", "Zach"]),  # code-point order
    ({"full_name": {"gt": "z"}}, ["Émile"]),
    # ne, in, nin: a record without a value is "not equal"
    ({"age": {"ne": "41"}}, ["Lacey", "Zach", "jacelyn"]),
    ({"active": {"ne": "true"}}, ["Lacey", "Zach", "Émile"]),
    ({"age": {"ne": "null"}}, ["Nadine", "Lacey", "Zach", "Émile"]),
    ({"age": {"in": "25,41"}}, ["Nadine", "Lacey", "Émile"]),
    ({"age": {"in": ["25", "50"]}}, ["Lacey", "Zach"]),
    ({"country_of_birth": {"in": "India,France"}}, ["Zach", "jacelyn", "Émile"]),
    ({"age": {"nin": "25,41"}}, ["Zach", "jacelyn"]),
    ({"age": {"nin": "25,41,null"}}, ["Zach"]),
    ({"tags": {"in": "a,x"}}, ["Nadine", "Zach"]),
    ({"tags": {"nin": "b"}}, ["Zach", "jacelyn", "Émile"]),
    ({"job": {"ne": "accountant"}}, ["Lacey", "Zach", "jacelyn", "Émile"]),
    ({"score": {"ne": "4.5"}}, ["Lacey", "Zach", "jacelyn", "Émile"]),
    ({"score": {"in": "3,9.25"}}, ["Lacey", "jacelyn"]),
    ({"job": {"nin": "accountant,secretary"}}, ["Zach", "jacelyn", "Émile"]),
    ({"born": {"in": "2019-09-22T00:00:00Z"}}, ["Émile"]),
    ({"_parent_id": "null"}, ["Nadine", "Lacey", "Zach", "jacelyn", "Émile"]),
    # all, ctn
    ({"tags": {"all": "a,b"}}, ["Nadine"]),
    ({"tags": {"all": "b"}}, ["Nadine", "Lacey"]),
    ({"tags": {"all": "a,c"}}, []),
    ({"job": {"ctn": "COUNT"}}, ["Nadine", "Émile"]),
    ({"job": {"ctn": "%"}}, ["jacelyn"]),  # % is literal
    ({"job": {"ctn": "e_t"}}, ["jacelyn"]),  # _ is literal
    ({"job": {"ctn": "_"}}, ["jacelyn"]),
    ({"age": {"ctn": "4"}}, ["Nadine", "Émile"]),
    ({"score": {"ctn": ".2"}}, ["jacelyn"]),
    ({"full_name": {"ctn": "ÉMI"}}, ["Émile"]),
    # or: one OR group, ANDed with the rest
    ({"score": {"or": "4.5,-1.5"}}, ["Nadine", "Émile"]),
    ({"job": {"or": "secretary"}, "tags": {"or": "x"}}, ["Lacey", "Zach"]),
    ({"age": {"or": "25,50"}}, ["Lacey", "Zach"]),
    ({"age": {"or": "25"}, "country_of_birth": {"or": "India"}}, ["Lacey", "Zach", "jacelyn"]),
    ({"age": {"or": "25"}, "country_of_birth": {"or": "India"}, "active": "true"}, ["jacelyn"]),
    # sorting, with _id as the tie-breaker
    ({"sort_asc": "age"}, ["Lacey", "Nadine", "Émile", "Zach", "jacelyn"]),
    ({"sort_desc": "age"}, ["jacelyn", "Zach", "Émile", "Nadine", "Lacey"]),
    ({"sort_asc": "full_name"}, ["Lacey", "Nadine", "Zach", "jacelyn", "Émile"]),
    ({"sort_desc": "score", "score": {"ne": "null"}}, ["jacelyn", "Nadine", "Lacey", "Émile"]),
    ({"sort_asc": "born", "born": {"ne": "null"}}, ["Lacey", "Nadine", "Émile"]),
    ({"age": {"gt": "28"}, "sort_desc": "full_name"}, ["Émile", "Zach", "Nadine"]),
    ({"sort_desc": "_id"}, ["Émile", "jacelyn", "Zach", "Lacey", "Nadine"]),
    # skip / limit / last
    ({"skip": "1", "limit": "2"}, ["Lacey", "Zach"]),
    ({"limit": "-1"}, ["Émile"]),
    ({"limit": "-1", "sort_asc": "age", "age": {"ne": "null"}}, ["Zach"]),
    ({"limit": "0"}, []),
    ({"skip": "10"}, []),
    # near: within the radius, nearest first
    ({"home": {"near": "2.35,48.86;5000"}}, ["Zach", "Émile"]),
    ({"home": {"near": "2.3605,48.8705;100"}}, ["Émile"]),
    ({"home": {"near": "13.4,52.5;1000000"}}, ["Nadine", "Lacey", "Émile", "Zach"]),
    ({"home": {"near": "2.35,48.86;1000000"}, "sort_desc": "age"}, ["Zach", "Émile", "Nadine"]),
]


@pytest.mark.parametrize("params, expected", CASES, ids=[str(c[0]) for c in CASES])
def test_search_finds(profile, people, owner, params, expected):
    assert names(profile, params, Caller.for_user(owner)) == expected


def test_system_fields_filter(profile, people, owner, member, create):
    other = create(user=member, full_name="by member")
    child = create(full_name="child", _parent_id=people["Zach"].pk)
    caller = Caller.for_user(owner)
    assert names(profile, {"user_id": str(member.pk)}, caller) == ["by member"]
    assert names(profile, {"_parent_id": people["Zach"].pk}, caller) == ["child"]
    assert names(profile, {"_id": {"in": f"{other.pk},{child.pk}"}}, caller) == [
        "by member",
        "child",
    ]
    created = people["Nadine"].created_at
    assert len(names(profile, {"created_at": {"gte": str(created)}}, caller)) == 7
    assert names(profile, {"updated_at": {"lt": str(created)}}, caller) == []


def test_count_ignores_skip_and_limit(profile, people, owner):
    result = search(
        profile, {"count": "1", "age": {"gte": "25"}, "limit": "1"}, Caller.for_user(owner)
    )
    assert result.count == 4


def test_aggregation_groups(profile, people, owner):
    result = search(
        profile,
        {
            "age": {"calc": "avg,max,sum,count"},
            "score": {"calc": "min"},
            "group_by": "country_of_birth",
        },
        Caller.for_user(owner),
    )
    assert result.groups == [
        {
            "country_of_birth": "France",
            "age": {"avg": 41.0, "max": 41, "sum": 41, "count": 1},
            "score": {"min": -1.5},
        },
        {
            "country_of_birth": "Germany",
            "age": {"avg": 41.0, "max": 41, "sum": 41, "count": 1},
            "score": {"min": 4.5},
        },
        {
            "country_of_birth": "India",
            "age": {"avg": 50.0, "max": 50, "sum": 50, "count": 1},
            "score": {"min": 9.25},
        },
        {
            "country_of_birth": "Sweden",
            "age": {"avg": 25.0, "max": 25, "sum": 25, "count": 1},
            "score": {"min": 3.0},
        },
    ]


def test_aggregation_applies_filters_first(profile, people, owner):
    result = search(
        profile, {"age": {"calc": "avg", "gt": "30"}, "group_by": "active"}, Caller.for_user(owner)
    )
    assert result.groups == [
        {"active": True, "age": {"avg": 41.0}},
        {"active": None, "age": {"avg": 45.5}},
    ]


def test_output_include_and_exclude(profile, people, owner):
    result = search(profile, {"output": {"include": "age,job"}}, Caller.for_user(owner))
    assert result.query.include == ["age", "job"]


def test_near_across_the_date_line(profile, create, owner):
    create(full_name="east", home=[179.99, 0.0])
    create(full_name="west", home=[-179.99, 0.0])
    create(full_name="far", home=[170.0, 0.0])
    assert names(profile, {"home": {"near": "179.995,0;5000"}}, Caller.for_user(owner)) == [
        "east",
        "west",
    ]


BAD = [
    # (params, status, error key)
    ({"nickname": "x"}, 422, "nickname"),
    ({"age": {"between": "1"}}, 400, "age"),
    ({"age": {}}, 400, "age"),
    ({"age": "forty"}, 422, "age"),
    ({"age": {"gt": "x"}}, 422, "age"),
    ({"age": {"gt": "null"}}, 422, "age"),
    ({"active": {"gt": "true"}}, 422, "active"),
    ({"tags": {"gt": "a"}}, 422, "tags"),
    ({"age": {"all": "1"}}, 422, "age"),
    ({"active": {"ctn": "t"}}, 422, "active"),
    ({"home": {"near": "1,2"}}, 422, "home"),
    ({"home": {"near": "1,2;-5"}}, 422, "home"),
    ({"home": {"near": "200,2;5"}}, 422, "home"),
    ({"age": {"near": "1,2;5"}}, 422, "age"),
    ({"job": {"calc": "avg"}}, 422, "job"),
    ({"age": {"calc": "median"}}, 422, "age"),
    ({"group_by": "job"}, 422, "group_by"),
    ({"age": {"calc": "avg"}, "group_by": "tags"}, 422, "tags"),
    ({"limit": "1000"}, 422, "limit"),
    ({"limit": "101"}, 422, "limit"),
    ({"limit": "-2"}, 422, "limit"),
    ({"limit": "ten"}, 422, "limit"),
    ({"skip": "-1"}, 422, "skip"),
    ({"sort_asc": "nope"}, 422, "nope"),
    ({"sort_asc": "home"}, 422, "home"),
    ({"output": {"include": "nope"}}, 422, "nope"),
    ({"output": {"include": "age", "exclude": "job"}}, 422, "output"),
    ({"age') ; drop table records_record; --": "1"}, 422, "age') ; drop table records_record; --"),
    ({"age": {"in": ""}}, 422, "age"),
]


@pytest.mark.parametrize("params, status, key", BAD, ids=[str(b[0]) for b in BAD])
def test_bad_queries_are_refused_naming_the_culprit(profile, people, owner, params, status, key):
    with pytest.raises(QueryError) as caught:
        search(profile, params, Caller.for_user(owner))
    assert caught.value.status == status
    assert key in caught.value.errors


def test_aggregation_without_group_by_gives_totals(profile, people, stranger):
    result = search(
        profile,
        {"age": {"calc": "avg,max,count"}, "score": {"calc": "sum"}},
        Caller.for_user(stranger),
    )
    assert result.groups == [
        {"age": {"avg": 39.25, "max": 50, "count": 4}, "score": {"sum": 15.25}}
    ]


def test_aggregation_by_a_system_field(profile, people, owner):
    result = search(
        profile, {"age": {"calc": "sum"}, "group_by": "user_id"}, Caller.for_user(owner)
    )
    assert result.groups == [{"user_id": owner.pk, "age": {"sum": 157}}]
