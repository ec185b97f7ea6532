"""Forms of the Custom module: a class with its fields, a field, permissions."""

from django import forms

from classes.models import (
    ACTIONS,
    LEVELS,
    RECORD_ACTIONS,
    RECORD_LEVELS,
    FieldType,
    validate_field_name,
    validate_name,
)
from config.api.indexes import is_index

LEVEL_LABELS = {
    "open": "Open",
    "owner": "Owner",
    "not_allowed": "Not allowed",
    "open_for_groups": "Open for groups",
    "open_for_users_ids": "Open for users ids",
}


FILE_NOT_INDEXED = "a File field takes no index: no filter reads it."
INVALID_LEVELS = "a level below needs a fix (see the message beside it)."


class ClassForm(forms.Form):
    name = forms.CharField(
        label="Class name", max_length=64, validators=[validate_name], help_text="e.g. Profile"
    )


class FieldForm(forms.Form):
    name = forms.CharField(label="Field name", max_length=64, validators=[validate_field_name])
    type = forms.ChoiceField(label="Type", choices=FieldType.choices)
    indexed = forms.BooleanField(label="Indexed", required=False)

    def clean(self):
        data = super().clean()
        if data.get("indexed") and data.get("type") == FieldType.FILE:
            self.add_error("indexed", FILE_NOT_INDEXED)
        return data


class BaseFieldFormSet(forms.BaseFormSet):
    def clean(self):
        super().clean()
        names = [f.cleaned_data.get("name") for f in self.forms if f.cleaned_data]
        duplicates = {n for n in names if n and names.count(n) > 1}
        if duplicates:
            raise forms.ValidationError(f"Field names must differ: {', '.join(sorted(duplicates))}")

    def fields_data(self) -> list[dict]:
        return [
            {
                "name": f.cleaned_data["name"],
                "type": f.cleaned_data["type"],
                "indexed": f.cleaned_data.get("indexed", False),
            }
            for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]


FieldFormSet = forms.formset_factory(
    FieldForm, formset=BaseFieldFormSet, extra=0, min_num=1, validate_min=True
)


def _split(text: str) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


class AccessForm(forms.Form):
    """One action's level, with the groups or ids the level needs."""

    access = forms.ChoiceField(widget=forms.Select(attrs={"data-access-select": ""}))
    groups = forms.CharField(required=False, help_text="Comma-separated tags")
    ids = forms.CharField(required=False, help_text="Comma-separated user ids")
    use_class_permissions = forms.BooleanField(required=False, label="Use class permissions")

    def __init__(self, *args, action: str, levels, switch: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.action = action
        self.fields["access"].choices = [(lvl, LEVEL_LABELS[lvl]) for lvl in levels]
        self.fields["access"].label = action.capitalize()
        if not switch:
            del self.fields["use_class_permissions"]

    def clean(self):
        """Groups and ids are read only for the level that uses them: a stale value left in
        the hidden input of another level neither blocks the save nor is kept."""
        data = super().clean()
        access = data.get("access")
        groups, ids = _split(data.get("groups")), _split(data.get("ids"))
        data["groups"], data["ids"] = [], []
        if access == "open_for_groups":
            if not groups:
                self.add_error("groups", "Give at least one group.")
            data["groups"] = groups
        if access == "open_for_users_ids":
            if not ids:
                self.add_error("ids", "Give at least one user id.")
            elif not all(is_index(i) for i in ids):
                self.add_error("ids", "Ids are whole numbers, separated by commas.")
            else:
                data["ids"] = [int(i) for i in ids]
        return data

    def value(self) -> dict:
        data = self.cleaned_data
        entry = {"access": data["access"]}
        if data["access"] == "open_for_groups":
            entry["groups"] = data["groups"]
        if data["access"] == "open_for_users_ids":
            entry["ids"] = data["ids"]
        if "use_class_permissions" in self.fields:
            entry["use_class_permissions"] = data.get("use_class_permissions", False)
        return entry


def _initial(entry: dict) -> dict:
    return {
        "access": entry.get("access"),
        "groups": ", ".join(entry.get("groups") or []),
        "ids": ", ".join(str(i) for i in entry.get("ids") or []),
        "use_class_permissions": entry.get("use_class_permissions", False),
    }


def class_permission_forms(klass, data=None) -> list[AccessForm]:
    """One form per action; `owner` is not a level for create (API.md §4)."""
    return [
        AccessForm(
            data,
            prefix=action,
            action=action,
            levels=[lvl for lvl in LEVELS if not (action == "create" and lvl == "owner")],
            switch=action != "create",
            initial=_initial(klass.permission(action)),
        )
        for action in ACTIONS
    ]


def record_permission_forms(current: dict, data=None) -> list[AccessForm]:
    """`current`: {"read": {"access", "ids", "groups"}, ...} as the record holds them."""
    return [
        AccessForm(
            data,
            prefix=action,
            action=action,
            levels=RECORD_LEVELS,
            switch=False,
            initial=_initial(current.get(action, {})),
        )
        for action in RECORD_ACTIONS
    ]
