"""The hostile-input tests reuse the `profile` class with one field of every type."""

from tests.records.conftest import create, make_class, profile  # noqa: F401
