import pytest

from classes.models import default_class_permissions
from classes.services import normalize_class_permissions
from config.api.errors import Unprocessable


def refused(data) -> dict:
    with pytest.raises(Unprocessable) as info:
        normalize_class_permissions(data)
    return info.value.errors


def test_nothing_given_is_the_defaults():
    assert normalize_class_permissions(None) == default_class_permissions()
    assert normalize_class_permissions({}) == default_class_permissions()


@pytest.mark.parametrize("level", ["open", "owner", "not_allowed"])
@pytest.mark.parametrize("action", ["read", "update", "delete"])
def test_simple_levels_for_record_actions(action, level):
    result = normalize_class_permissions({action: {"access": level}})
    assert result[action] == {"access": level, "use_class_permissions": False}
    others = {k: v for k, v in result.items() if k != action}
    assert others == {k: v for k, v in default_class_permissions().items() if k != action}


@pytest.mark.parametrize("level", ["open", "not_allowed"])
def test_create_levels(level):
    assert normalize_class_permissions({"create": {"access": level}})["create"] == {"access": level}


def test_owner_is_refused_for_create():
    errors = refused({"create": {"access": "owner"}})
    assert list(errors) == ["create"] and "owner" in errors["create"][0]


def test_groups_level_needs_groups():
    assert "needs groups" in refused({"read": {"access": "open_for_groups"}})["read"][0]
    assert (
        "needs groups" in refused({"read": {"access": "open_for_groups", "groups": ""}})["read"][0]
    )


def test_ids_level_needs_ids():
    errors = refused({"delete": {"access": "open_for_users_ids", "ids": []}})
    assert "needs ids" in errors["delete"][0]


def test_groups_and_ids_as_lists_or_comma_strings():
    result = normalize_class_permissions(
        {
            "create": {"access": "open_for_groups", "groups": "officers, pilots,officers"},
            "read": {"access": "open_for_groups", "groups": ["officers"]},
            "update": {"access": "open_for_users_ids", "ids": "51941,51943"},
            "delete": {"access": "open_for_users_ids", "ids": [12, "15"]},
        }
    )
    assert result["create"] == {"access": "open_for_groups", "groups": ["officers", "pilots"]}
    assert result["read"]["groups"] == ["officers"]
    assert result["update"]["ids"] == [51941, 51943]
    assert result["delete"]["ids"] == [12, 15]


def test_record_style_aliases_are_accepted():
    result = normalize_class_permissions(
        {
            "read": {"access": "open_for_users_ids", "users_ids": "3"},
            "update": {"access": "open_for_groups", "user_groups": "a,b"},
        }
    )
    assert result["read"]["ids"] == [3]
    assert result["update"]["groups"] == ["a", "b"]


@pytest.mark.parametrize("ids", ["abc", [1.5], [True], "1,x", [-4]])
def test_ids_must_be_user_ids(ids):
    errors = refused({"update": {"access": "open_for_users_ids", "ids": ids}})
    assert "ids must be user ids" in errors["update"][0]


def test_groups_and_ids_are_dropped_for_levels_that_do_not_use_them():
    result = normalize_class_permissions({"read": {"access": "open", "groups": ["x"], "ids": [1]}})
    assert result["read"] == {"access": "open", "use_class_permissions": False}


@pytest.mark.parametrize("value", [True, "true", "1", 1])
def test_use_class_permissions_switch(value):
    result = normalize_class_permissions(
        {"update": {"access": "open", "use_class_permissions": value}}
    )
    assert result["update"] == {"access": "open", "use_class_permissions": True}


def test_use_class_permissions_is_refused_for_create():
    errors = refused({"create": {"access": "open", "use_class_permissions": True}})
    assert "read, update and delete only" in errors["create"][0]


def test_switch_alone_keeps_the_default_level():
    assert normalize_class_permissions({"delete": {"use_class_permissions": "true"}})["delete"] == {
        "access": "owner",
        "use_class_permissions": True,
    }


def test_a_level_may_be_given_as_a_plain_string():
    assert normalize_class_permissions({"read": "not_allowed"})["read"]["access"] == "not_allowed"


def test_unknown_action_level_and_key_are_refused_together():
    errors = refused(
        {
            "list": {"access": "open"},
            "read": {"access": "public"},
            "update": {"access": "open", "colour": "red"},
            "delete": {"access": "owner", "use_class_permissions": "maybe"},
        }
    )
    assert set(errors) == {"list", "read", "update", "delete"}
    assert errors["read"][0].startswith("access must be one of open, owner")
    assert errors["update"] == ["unknown keys: colour"]


def test_not_an_object_is_refused():
    assert list(refused(["open"])) == ["permissions"]
