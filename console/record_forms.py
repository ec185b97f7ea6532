"""The record form: one widget per field type. Values leave the form as the raw text a
client would send, and the record services coerce them through `classes.types`, so the
console accepts and refuses exactly what the API does."""

import json

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join

from classes.models import FieldType
from classes.types import CoercionError, coerce_value
from records.ids import is_object_id


def item_text(item) -> str:
    """How one Array item shows in its input: a string as itself, any other JSON value as
    JSON (`1`, `true`, `null`). A string that would read back as something else (`"1"`,
    `"true"`, `""`) shows in JSON quotes, so every item keeps its JSON type through an edit."""
    if isinstance(item, str) and item.strip():
        try:
            json.loads(item)
        except ValueError:
            return item
    return json.dumps(item, ensure_ascii=False)


def item_value(text: str):
    """The reverse of `item_text`: JSON when the text is JSON, else the text as a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


ARRAY_HELP = (
    "Array: one value per item. 12, 1.5, true, false and null are JSON values; anything else "
    'is text; "12" in quotes is the text 12.'
)


class ListEditor(forms.Widget):
    """An Array field: one text input per item, with add/remove buttons (console.js).
    Items are written as `item_text` shows them; an empty input is no item."""

    def format_value(self, value):
        if value in (None, ""):
            return []
        return [item_text(v) for v in value]

    def render(self, name, value, attrs=None, renderer=None):
        items = self.format_value(value)
        row = (
            '<div class="cb-list-item"><input type="text" name="{}" value="{}" aria-label="{} item">'
            '<button type="button" class="button cb-secondary" data-list-remove aria-label="Remove item">×</button></div>'
        )
        rows = format_html_join("", row, ((name, item, name) for item in items))
        empty = format_html(row, name, "", name)
        return format_html(
            '<div class="cb-list"{}><div class="cb-list-items">{}</div><template>{}</template>'
            '<button type="button" class="button cb-secondary" data-list-add>Add item</button></div>',
            flatatt({"id": (attrs or {}).get("id", ""), "data-list": name}),
            rows,
            empty,
        )

    def value_from_datadict(self, data, files, name):
        return [item_value(item) for item in data.getlist(name) if item.strip() != ""]

    def value_omitted_from_data(self, data, files, name):
        return False


class ArrayField(forms.Field):
    widget = ListEditor

    def has_changed(self, initial, data):
        # Compared as JSON: in Python 1 == True, in a record they differ.
        return json.dumps(initial or []) != json.dumps(data or [])


class LocationWidget(forms.MultiWidget):
    def __init__(self, attrs=None):
        number = {"step": "any", "class": "cb-coord"}
        super().__init__(
            [
                forms.NumberInput(
                    attrs={**number, "placeholder": "longitude", "min": "-180", "max": "180"}
                ),
                forms.NumberInput(
                    attrs={**number, "placeholder": "latitude", "min": "-90", "max": "90"}
                ),
            ],
            attrs,
        )
        self.widgets_names = ["_lon", "_lat"]

    def decompress(self, value):
        if isinstance(value, list | tuple) and len(value) == 2:
            return [value[0], value[1]]
        return [None, None]

    def render(self, name, value, attrs=None, renderer=None):
        inner = super().render(name, value, attrs, renderer)
        return format_html('<span class="cb-inline cb-location">lon / lat {}</span>', inner)


class LocationField(forms.MultiValueField):
    widget = LocationWidget

    def __init__(self, **kwargs):
        parts = (forms.CharField(required=False), forms.CharField(required=False))
        super().__init__(parts, require_all_fields=False, required=False, **kwargs)

    def compress(self, data_list):
        if not data_list or all(v in (None, "") for v in data_list):
            return None
        return [v if v not in (None, "") else "" for v in data_list]

    def has_changed(self, initial, data):
        before = LocationWidget().decompress(initial)
        after = data if isinstance(data, list) else [None, None]
        return [_num(v) for v in before] != [_num(v) for v in after]


def _num(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class DateInput(forms.DateTimeInput):
    """datetime-local, in UTC: the stored `2019-09-21T21:25:00Z` shows as 2019-09-21T21:25:00."""

    input_type = "datetime-local"

    def __init__(self):
        super().__init__(attrs={"step": "1"})

    def format_value(self, value):
        return value[:19] if isinstance(value, str) else None


class DateField(forms.CharField):
    widget = DateInput

    def has_changed(self, initial, data):
        return (initial or "")[:19] != (data or "")[:19]


class StringField(forms.CharField):
    """A textarea, so a value with line breaks survives an edit. Browsers send line breaks
    as CRLF: they are read back as LF, and a value that only differs by them is unchanged."""

    widget = forms.Textarea(attrs={"rows": 2, "cols": 60})

    def __init__(self, **kwargs):
        super().__init__(strip=False, required=False, **kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        return value.replace("\r\n", "\n") if isinstance(value, str) else value

    def has_changed(self, initial, data):
        before = "" if initial is None else str(initial)
        return before != self.to_python(data)


def form_field(field):
    """The form field for one class field (API.md §3 types)."""
    label = field.name
    help_text = field.get_type_display()
    kind = field.type
    if kind == FieldType.INTEGER:
        widget = forms.NumberInput(attrs={"step": "1"})
        return forms.CharField(label=label, required=False, widget=widget, help_text=help_text)
    if kind == FieldType.FLOAT:
        widget = forms.NumberInput(attrs={"step": "any"})
        return forms.CharField(label=label, required=False, widget=widget, help_text=help_text)
    if kind == FieldType.BOOLEAN:
        return forms.BooleanField(label=label, required=False, help_text=help_text)
    if kind == FieldType.ARRAY:
        return ArrayField(label=label, required=False, help_text=ARRAY_HELP)
    if kind == FieldType.LOCATION:
        return LocationField(label=label, help_text="Location: longitude, latitude")
    if kind == FieldType.DATE:
        return DateField(label=label, required=False, help_text="Date, UTC")
    if kind == FieldType.FILE:
        return forms.FileField(label=label, required=False, help_text="File, at most 32 MB")
    return StringField(label=label, help_text=help_text)


class RecordForm(forms.Form):
    owner = forms.IntegerField(
        label="user_id",
        required=False,
        min_value=1,
        widget=forms.NumberInput(attrs={"list": "app-users"}),
        help_text="The owner: a user id of this application (empty: no owner)",
    )
    parent_id = forms.CharField(
        label="_parent_id", required=False, max_length=24, help_text="The _id of a parent record"
    )

    def __init__(self, *args, klass, record=None, only: str | None = None, **kwargs):
        """`only`: the one field of an inline cell edit (no owner, no parent)."""
        self.klass = klass
        self.record = record
        self.class_fields = [f for f in klass.fields.all() if only is None or f.name == only]
        initial = {"parent_id": record.parent_id if record else ""}
        if record is not None:
            initial.update({f.name: record.data.get(f.name) for f in self.class_fields})
        super().__init__(*args, initial=initial, **kwargs)
        if record is not None or only is not None:  # the owner is set once, at creation
            del self.fields["owner"]
        if only is not None:
            del self.fields["parent_id"]
        for field in self.class_fields:
            self.fields[field.name] = form_field(field)

    def clean_owner(self):
        from accounts.models import ApiUser

        user_id = self.cleaned_data.get("owner")
        if user_id is None:
            return None
        user = ApiUser.objects.filter(application_id=self.klass.application_id, pk=user_id).first()
        if user is None:
            raise forms.ValidationError("No user of this application has this id.")
        return user

    def clean(self):
        """Every typed value through the coercion module the services use, so all the
        form's errors show at once, each beside its field (the services check again)."""
        data = super().clean()
        for name, value in self.record_data().items():
            try:
                coerce_value(self.klass.field_map()[name].type, value)
            except CoercionError as exc:
                self.add_error(name, str(exc))
        parent = data.get("parent_id") if "parent_id" in self.fields else None
        if parent and not is_object_id(parent):
            self.add_error("parent_id", "must be the _id of a record")
        return data

    def file_fields(self) -> list:
        return [f for f in self.class_fields if f.type == FieldType.FILE]

    def record_data(self) -> dict:
        """The values to send: every given value on create; only changed ones on edit
        (so an untouched Array of numbers is not rewritten as text). Empty clears."""
        data = {}
        changed = set(self.changed_data)
        for field in self.class_fields:
            if field.type == FieldType.FILE:
                continue
            if field.name not in self.cleaned_data:
                continue  # refused by its form field, already said beside it
            value = self.cleaned_data[field.name]
            if field.type != FieldType.BOOLEAN and value in ("", []):
                value = None if field.type != FieldType.ARRAY or self.record is None else []
            if self.record is None and value in (None, []) and field.type != FieldType.BOOLEAN:
                continue
            if self.record is not None and field.name not in changed:
                continue
            data[field.name] = value
        return data

    def current_file(self, name: str):
        return (self.record.data.get(name) if self.record else None) or None
