"""count_up_to: the console pager's capped count, raw SQL around the ORM's own query."""

import pytest

from records.query import count_up_to, search

from .conftest import make_class


@pytest.mark.parametrize(
    ("criteria", "cap"), [({}, 100), ({}, 3), ({"age": {"gt": "5"}}, 100), ({"age": "3"}, 2)]
)
def test_it_is_the_search_count_capped(application, owner, create, criteria, cap, api_for):
    from accounts.caller import Caller

    klass = make_class(application, "counted", [("age", "integer")])
    for age in range(12):
        create(klass=klass, age=age, permissions={"read": {"access": "owner"}} if age % 2 else {})
    nobody = make_class(
        application,
        "closed",
        [("age", "integer")],
        permissions={"read": {"access": "not_allowed", "use_class_permissions": True}},
    )
    assert count_up_to(nobody, criteria, Caller(application=application), cap) == 0
    for caller in (Caller.for_user(owner), Caller(application=application)):
        full = search(klass, {**criteria, "count": "1"}, caller).count
        assert count_up_to(klass, criteria, caller, cap) == min(full, cap)
