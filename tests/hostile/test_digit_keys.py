"""Keys that Python's str.isdigit() accepts but int() refuses (`²`, `①`) are not indexes.

Each place that reads a numbered map (multi create, list parameters, array index updates,
pull filters, permission ids) answers 4xx for them, never a 500.
"""

import pytest

ODD_DIGITS = ["²", "①", "٣", "１"]


@pytest.mark.parametrize("key", ["0", "1", "42"])
def test_ascii_digits_are_indexes(key):
    from config.api.indexes import as_index, is_index

    assert is_index(key)
    assert as_index(key) == int(key)


@pytest.mark.parametrize("key", [*ODD_DIGITS, "", "-1", " 1", "1.0", "1e3", 1, None])
def test_other_keys_are_not_indexes(key):
    from config.api.indexes import as_index, is_index

    assert not is_index(key)
    assert as_index(key) is None


@pytest.mark.django_db
@pytest.mark.parametrize("key", ODD_DIGITS)
def test_multi_create_with_odd_digit_key_is_422(profile, owner_api, key):
    status, body = owner_api.post("/data/profile/multi", {"record": {key: {"age": 1}}})
    assert status == 422, body


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"age[²]": "1"},
        {"tags[①]": "a"},
        {"age[in][²]": "1"},
        {"tags[all][①]": "a"},
        {"sort_asc[²]": "age"},
    ],
)
def test_list_filter_with_odd_digit_key_is_4xx(profile, owner_api, params):
    status, body = owner_api.get("/data/profile", params)
    assert 400 <= status < 500, body


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes",
    [
        {"tags": {"²": "x"}},
        {"pull": {"tags": {"²": "x"}}},
        {"pull": {"tags": {"①": "x", "0": "y"}}},
        {"permissions": {"read": {"access": "open_for_users_ids", "ids": "²"}}},
        {"permissions": {"read": {"access": "open_for_groups", "groups": {"²": "g"}}}},
    ],
)
def test_update_with_odd_digit_key_is_422(create, owner_api, changes):
    record = create(tags=["a", "b"])
    status, body = owner_api.put(f"/data/profile/{record.pk}", changes)
    assert status == 422, body


@pytest.mark.django_db
def test_create_with_odd_digit_permission_ids_is_422(profile, owner_api):
    body = {"permissions": {"read": {"access": "open_for_users_ids", "ids": "²"}}}
    status, answer = owner_api.post("/data/profile", body)
    assert status == 422, answer


@pytest.mark.django_db
def test_form_array_with_odd_digit_key_is_422(profile, owner_api):
    status, body = owner_api.post("/data/profile", {"tags[²]": "a"}, format="multipart")
    assert status == 422, body
