"""The coercion module, table-driven: what each field type accepts, what it stores, and what
it refuses (API.md §3). The API, the console and the importer all go through it."""

import pytest

from classes.types import CoercionError, coerce_fields, coerce_value, size_error

ACCEPTED = [
    ("integer", 41, 41),
    ("integer", "41", 41),
    ("integer", " 41 ", 41),
    ("integer", "+7", 7),
    ("integer", 41.0, 41),
    ("integer", "41.0", 41),
    ("integer", "1e3", 1000),
    ("integer", -(2**63), -(2**63)),
    ("float", 2.5, 2.5),
    ("float", 3, 3.0),
    ("float", "2.5", 2.5),
    ("float", ".5", 0.5),
    ("float", "1e-3", 0.001),
    ("string", "hello", "hello"),
    ("string", 41, "41"),
    ("string", 2.5, "2.5"),
    ("boolean", True, True),
    ("boolean", "false", False),
    ("boolean", "1", True),
    ("boolean", 0, False),
    ("array", ["a", 1, 2.5, True, None], ["a", 1, 2.5, True, None]),
    ("array", "a, b,c", ["a", "b", "c"]),
    ("array", "", []),
    ("array", {"1": "y", "0": "x"}, ["x", "y"]),
    ("location", [13.4, 52.5], [13.4, 52.5]),
    ("location", "13.4, 52.5", [13.4, 52.5]),
    ("location", ["-180", "90"], [-180.0, 90.0]),
    ("date", "2019-09-21T21:25:00Z", "2019-09-21T21:25:00Z"),
    ("date", "2019-09-21 21:25:00", "2019-09-21T21:25:00Z"),
    ("date", "2019-09-21T23:25:00+02:00", "2019-09-21T21:25:00Z"),
    ("date", "2019-09-21", "2019-09-21T00:00:00Z"),
    ("date", 1569101100, "2019-09-21T21:25:00Z"),
    ("date", "1569101100", "2019-09-21T21:25:00Z"),
]

REFUSED = [
    ("integer", "41.5"),
    ("integer", "4_1"),
    ("integer", "nan"),
    ("integer", "inf"),
    ("integer", True),
    ("integer", 2**63),
    ("integer", "9" * 5000),
    ("integer", [1]),
    ("float", "nan"),
    ("float", "Infinity"),
    ("float", "1_0"),
    ("float", "1e400"),
    ("float", "abc"),
    ("float", False),
    ("float", float("nan")),
    ("string", True),
    ("string", ["a"]),
    ("string", {"a": 1}),
    ("boolean", "yes"),
    ("boolean", 2),
    ("array", [["nested"]]),
    ("array", [{"a": 1}]),
    ("array", 5),
    ("location", [181, 0]),
    ("location", [0, -91]),
    ("location", "1,2,3"),
    ("location", ["a", "b"]),
    ("date", "2024-02-30T00:00:00Z"),
    ("date", "not a date"),
    ("date", True),
    ("date", "0000-01-01T00:00:00Z"),
    ("file", {"file_id": "x"}),
]


@pytest.mark.parametrize(("kind", "given", "stored"), ACCEPTED)
def test_accepted_values_are_stored_in_their_type(kind, given, stored):
    result = coerce_value(kind, given)
    assert result == stored
    assert type(result) is type(stored)


@pytest.mark.parametrize(("kind", "given"), REFUSED)
def test_refused_values_raise_a_coercion_error(kind, given):
    with pytest.raises(CoercionError):
        coerce_value(kind, given)


def test_null_clears_and_the_form_string_null_too():
    assert coerce_value("integer", None) is None
    assert coerce_value("string", "null", form=True) is None
    assert coerce_value("string", "null") == "null"


def test_fields_not_in_the_class_are_errors_never_dropped():
    class F:
        def __init__(self, type):
            self.type = type

    values, errors = coerce_fields({"age": F("integer")}, {"age": "41", "agee": 1, "bad": 2})
    assert values == {"age": 41}
    assert set(errors) == {"agee", "bad"}


def test_record_size_cap_names_both_sizes():
    assert size_error({"s": "x" * 1000}) is None
    message = size_error({"s": "x" * 131_072})
    assert message.startswith("record is too large (current: ")
    assert message.endswith(", max: 131072)")
