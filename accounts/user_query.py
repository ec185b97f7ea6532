"""The query languages of the users list: `GET /users/v2` and the deprecated v1 `GET /users`.

Both are django-filter FilterSets generated from one table of fields: django-filter turns
values into typed values (a form field per filter, whose errors become a 422 naming the
parameter) and applies each lookup. What it cannot express is our own code, here:

- the bracket syntax (`id[in][]=1`, `filter[]=number id gt 5`) becomes filter names
  (`id__in`, `id__gt`): `v2_data`, `v1_data`;
- the v2 rules of the whole query (at least one stand-alone field with a primary operator;
  stand-alone fields take no compare operator; `start_with` caps the page at 5): `v2_rules`;
- fields an application hides from other users cannot be searched by prefix or sorted on.

This module knows Django, not DRF: it raises QueryError, which the API turns into a 400/422.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import django_filters
from django import forms
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils.dateparse import parse_date, parse_datetime

from accounts.models import ApiUser, UserTag

MAX_LIMIT = 100
START_WITH_MIN = 4
START_WITH_LIMIT = 5
MAX_LIST = 100  # values of one `in` / `nin`
BIGINT = 2**63 - 1


class QueryError(Exception):
    def __init__(self, errors, status: int = 422):
        super().__init__(errors)
        self.errors = errors
        self.status = status


# --- values -------------------------------------------------------------------------


@dataclass(frozen=True)
class Moment:
    """A point in time as a client wrote it, and how long that writing spans: a whole
    second for `2019-11-06T09:21:41Z` or a Unix time, a whole day for `2019-11-06`."""

    start: datetime
    span: timedelta


class MomentField(forms.Field):
    """ISO 8601 (`Z`, an offset, or none: UTC), a date, or Unix seconds."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).strip()
        try:
            if text.lstrip("-").isdigit():
                return Moment(datetime.fromtimestamp(int(text), UTC), timedelta(seconds=1))
            if len(text) == 10:
                day = parse_date(text.replace(".", "-"))
                if day:
                    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
                    return Moment(start, timedelta(days=1))
            moment = parse_datetime(text.replace(" ", "T"))
        except (ValueError, OverflowError, OSError):
            moment = None
        if moment is None:
            raise forms.ValidationError("is not a date (ISO 8601 or Unix seconds)")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return Moment(moment.replace(microsecond=0), timedelta(seconds=1))


class ListField(forms.Field):
    """A list of values (`a[]=1&a[]=2`, a JSON list, or `1,2`), each cleaned by `child`."""

    def __init__(self, *, child: forms.Field, **kwargs):
        super().__init__(**kwargs)
        self.child = child

    def to_python(self, value):
        if value in (None, "", []):
            return None
        items = value if isinstance(value, list) else str(value).split(",")
        if len(items) > MAX_LIST:
            raise forms.ValidationError(f"lists at most {MAX_LIST} values")
        return [self.child.clean(item) for item in items]


def integer_field(**kwargs):
    return forms.IntegerField(min_value=-BIGINT, max_value=BIGINT, **kwargs)


def text_field(**kwargs):
    return forms.CharField(strip=False, max_length=255, **kwargs)


# --- filters ------------------------------------------------------------------------


class ScalarFilter(django_filters.Filter):
    """A value of the field's type (the form field is given per field kind)."""

    def __init__(self, *args, form_field=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._form_field = form_field

    @property
    def field(self):
        if not hasattr(self, "_field"):
            self._field = self._form_field or forms.Field()
            self._field.required = False  # a filter not given is no condition
        return self._field


class ListFilter(ScalarFilter):
    """`in` / `nin` (exclude=True); with `upper`, compared case-insensitively."""

    def __init__(self, *args, upper=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.upper = upper

    def filter(self, qs, value):
        if value in (None, []):
            return qs
        if not self.upper:
            return super().filter(qs, value)
        alias = f"_{self.field_name}_upper"
        qs = qs.alias(**{alias: Upper(self.field_name)})
        return self.get_method(qs)(**{f"{alias}__in": [v.upper() for v in value]})


class MomentFilter(ScalarFilter):
    """Dates compare with what the client wrote: `eq` is the whole second (or day)."""

    def filter(self, qs, value):
        if value is None:
            return qs
        name, start, end = self.field_name, value.start, value.start + value.span
        match self.lookup_expr:
            case "exact":
                condition = Q(**{f"{name}__gte": start, f"{name}__lt": end})
            case lookup:
                condition = Q(**{f"{name}__{lookup}": start})
        return qs.exclude(condition) if self.exclude else qs.filter(condition)


class TagsFilter(ScalarFilter):
    """user_tags: `eq` has the tag, `in` has any of them, `nin` has none of them."""

    @staticmethod
    def tags(value) -> list[str]:
        return value if isinstance(value, list) else [value]

    def filter(self, qs, value):
        if value in (None, "", []):
            return qs
        return self.get_method(qs)(tags__overlap=self.tags(value))


class RangeFilter(ScalarFilter):
    """v1 `between`: two comma-separated bounds, both included."""

    def filter(self, qs, value):
        if value is None:
            return qs
        low, high = value
        if isinstance(low, Moment):
            low, high = low.start, high.start + high.span
            return qs.filter(**{f"{self.field_name}__gte": low, f"{self.field_name}__lt": high})
        return qs.filter(**{f"{self.field_name}__range": (low, high)})


class PairField(ListField):
    def to_python(self, value):
        items = super().to_python(value)
        if items is not None and len(items) != 2:
            raise forms.ValidationError("needs two comma-separated bounds")
        return items


# --- the fields of users ------------------------------------------------------------


@dataclass(frozen=True)
class UserField:
    column: str
    kind: str  # integer | string | istring (case-insensitive) | tags | date
    standalone: bool = False
    additional: bool = False
    prefix_any_case: bool = False  # start_with ignores case (as istring fields always do)

    def form_field(self):
        if self.kind == "integer":
            return integer_field(required=False)
        if self.kind == "date":
            return MomentField(required=False)
        return text_field(required=False)


V2_FIELDS = {
    "id": UserField("id", "integer", standalone=True),
    "login": UserField("login", "string", standalone=True, prefix_any_case=True),
    "email": UserField("email", "istring", standalone=True),
    "full_name": UserField("full_name", "istring", standalone=True),
    "phone": UserField("phone", "string", standalone=True),
    "external_id": UserField("external_id", "string", standalone=True),
    "facebook_id": UserField("facebook_id", "string", standalone=True),
    "twitter_id": UserField("twitter_id", "string", standalone=True),
    "user_tags": UserField("tags", "tags", standalone=True, additional=True),
    "last_request_at": UserField("last_request_at", "date", additional=True),
    "created_at": UserField("created_at", "date", additional=True),
    "updated_at": UserField("updated_at", "date", additional=True),
}
PRIMARY = ("eq", "in", "start_with")
EXCLUDE = ("nin",)
COMPARE = ("gt", "lt", "gte", "lte")
V2_OPERATORS = PRIMARY + EXCLUDE + COMPARE
V2_SORTS = ("id", "login", "email", "full_name", "phone", "external_id", "facebook_id",
            "twitter_id", "created_at", "updated_at", "last_request_at")  # fmt: skip
CONTACTS = ("email", "phone")


def _v2_operators(field: UserField) -> tuple[str, ...]:
    if field.kind == "date":
        return ("eq", *COMPARE)
    if field.kind == "tags":
        return ("eq", "in", "nin")
    if field.kind == "integer":
        return ("eq", "in", "nin")
    return ("eq", "in", "start_with", "nin")


def _v2_filter(field: UserField, op: str) -> django_filters.Filter:
    column, kind = field.column, field.kind
    if kind == "tags":
        child = text_field()
        form_field = ListField(child=child, required=False) if op != "eq" else text_field()
        return TagsFilter(column, exclude=op == "nin", form_field=form_field)
    if kind == "date":
        lookup = "exact" if op == "eq" else op
        return MomentFilter(column, lookup, form_field=field.form_field())
    if op in ("in", "nin"):
        child = integer_field() if kind == "integer" else text_field()
        form_field = ListField(child=child, required=False)
        return ListFilter(
            column, "in", exclude=op == "nin", upper=kind == "istring", form_field=form_field
        )
    if op == "start_with":
        form_field = text_field(required=False, min_length=START_WITH_MIN)
        any_case = kind == "istring" or field.prefix_any_case
        lookup = "istartswith" if any_case else "startswith"
        return ScalarFilter(column, lookup, form_field=form_field)
    lookup = "iexact" if kind == "istring" else "exact"
    return ScalarFilter(column, lookup, form_field=field.form_field())


def _filter_name(name: str, op: str) -> str:
    return name if op == "eq" else f"{name}__{op}"


def _build_filterset(name: str, filters: dict) -> type[django_filters.FilterSet]:
    attrs = {**filters, "Meta": type("Meta", (), {"model": ApiUser, "fields": []})}
    return type(name, (django_filters.FilterSet,), attrs)


UsersV2FilterSet = _build_filterset(
    "UsersV2FilterSet",
    {
        _filter_name(name, op): _v2_filter(field, op)
        for name, field in V2_FIELDS.items()
        for op in _v2_operators(field)
    },
)


# --- v2: parameters -> filter data -> rules ------------------------------------------


@dataclass
class Page:
    offset: int
    limit: int


def _int_param(params: dict, name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise QueryError({name: ["must be an integer"]}) from None
    if not low <= value <= high:
        raise QueryError({name: [f"must be between {low} and {high}"]})
    return value


def page_of(params: dict, *, offset="offset", limit="limit", default_limit=MAX_LIMIT) -> Page:
    return Page(
        offset=_int_param(params, offset, 0, 0, BIGINT),
        limit=_int_param(params, limit, default_limit, 1, MAX_LIMIT),
    )


def _sort(params: dict, sorts: dict, errors: dict) -> str | None:
    given = [(key, params[key]) for key in ("sort_asc", "sort_desc") if params.get(key)]
    if len(given) > 1:
        errors["base"] = ["give sort_asc or sort_desc, not both"]
        return None
    if not given:
        return None
    key, name = given[0]
    if not isinstance(name, str) or name not in sorts:
        errors[key] = [f"can sort by {', '.join(sorts)}"]
        return None
    return ("-" if key == "sort_desc" else "") + sorts[name]


CONTROL = {"offset", "limit", "sort_asc", "sort_desc", "token"}


def v2_data(params: dict) -> tuple[dict, list[tuple[str, str]]]:
    """Filter data for UsersV2FilterSet, and the (field, operator) pairs the query uses."""
    data, used, unknown = {}, [], {}
    for name, value in params.items():
        if name in CONTROL:
            continue
        field = V2_FIELDS.get(name)
        if field is None:
            unknown[name] = [f"is not a filter of users (filters: {', '.join(V2_FIELDS)})"]
            continue
        pairs = value.items() if isinstance(value, dict) else [("eq", value)]
        for op, operand in pairs:
            if op not in V2_OPERATORS:
                raise QueryError(
                    {name: [f"unknown operator {op!r} (operators: {', '.join(V2_OPERATORS)})"]},
                    status=400,
                )
            if op not in _v2_operators(field):
                unknown[name] = [_refusal(name, field, op)]
                continue
            problem = _operand_problem(op, operand)
            if problem:
                unknown[f"{name}[{op}]" if op != "eq" else name] = [problem]
                continue
            data[_filter_name(name, op)] = operand
            used.append((name, op))
    if unknown:
        raise QueryError(unknown)
    return data, used


def _operand_problem(op: str, operand) -> str | None:
    """A value must be there, and be one value, or a list of values for `in`/`nin`."""
    values = operand if op in ("in", "nin") and isinstance(operand, list) else [operand]
    if not values or any(isinstance(v, bool) or not isinstance(v, str | int) for v in values):
        return "needs a list of values" if op in ("in", "nin") else "needs one value"
    if any(v == "" for v in values):
        return "can't be blank"
    return None


def _refusal(name: str, field: UserField, op: str) -> str:
    if op in COMPARE and field.standalone:
        return f"is a stand-alone field and can't be used with the compare operator {op}"
    return f"can't be used with the operator {op} (it takes {', '.join(_v2_operators(field))})"


def v2_rules(used: list[tuple[str, str]], *, hide_contacts: bool) -> None:
    """The rules of the whole query, in the page's words."""
    if not any(V2_FIELDS[name].standalone and op in PRIMARY for name, op in used):
        raise QueryError(
            {
                "base": [
                    "the query needs at least one stand-alone field "
                    f"({', '.join(n for n, f in V2_FIELDS.items() if f.standalone)}) "
                    "with a primary operator (eq, in, start_with)"
                ]
            }
        )
    if hide_contacts:
        hidden = sorted({n for n, op in used if n in CONTACTS and op == "start_with"})
        if hidden:
            raise QueryError(
                {n: ["is hidden from other users here: search it by exact value"] for n in hidden}
            )


def users_v2(application_id: int, params: dict, *, hide_contacts: bool):
    """(page of users, total, page) for GET /users/v2. Raises QueryError."""
    page = page_of(params)
    data, used = v2_data(params)
    v2_rules(used, hide_contacts=hide_contacts)
    if any(op == "start_with" for _, op in used):
        page.limit = min(page.limit, START_WITH_LIMIT)
    errors: dict = {}
    sorts = {s: V2_FIELDS[s].column if s in V2_FIELDS else s for s in V2_SORTS}
    if hide_contacts:
        sorts = {k: v for k, v in sorts.items() if k not in CONTACTS}
    order = _sort(params, sorts, errors)
    if errors:
        raise QueryError(errors)
    return run(UsersV2FilterSet, application_id, data, order, page)


_NARROWED: dict = {}


def narrowed(filterset_class, names) -> type[django_filters.FilterSet]:
    """The FilterSet with only the filters `names`. A FilterSet deep-copies every filter and
    its form deep-copies every field on each request: ~45 of them here, 10 ms of a request
    that needs two. The classes are kept, a thousand combinations at most."""
    key = (filterset_class, frozenset(names))
    narrow = _NARROWED.get(key)
    if narrow is None:
        if len(_NARROWED) >= 1000:
            _NARROWED.clear()
        narrow = type(filterset_class.__name__, (filterset_class,), {})
        narrow.base_filters = {
            name: f for name, f in filterset_class.base_filters.items() if name in key[1]
        }
        _NARROWED[key] = narrow
    return narrow


def run(filterset_class, application_id: int, data: dict, order: str | None, page: Page):
    """Validate, filter, count and cut one page of the application's users."""
    users = ApiUser.objects.filter(application_id=application_id)
    filterset = narrowed(filterset_class, data)(data=data, queryset=users)
    if not filterset.is_valid():
        raise QueryError(_form_errors(filterset.errors))
    filtered = filterset.qs
    order_by = [order, "id"] if order and order.lstrip("-") != "id" else [order or "id"]
    rows = filtered.order_by(*order_by).defer("password")[page.offset : page.offset + page.limit]
    rows = list(rows)
    if rows and len(rows) < page.limit or page.offset == 0 and not rows:
        total = page.offset + len(rows)  # the last page: no count needed
    else:
        total = _count_by_tags(filterset, application_id)
        if total is None:
            total = filtered.order_by().count()
    return rows, total, page


def _count_by_tags(filterset, application_id: int) -> int | None:
    """The count of a query whose conditions are one tag filter (`eq` or `in`), maybe a tag
    exclusion (`nin`) and `created_at` compares, from the UserTag index alone; None for
    other queries. The same answer as counting the users (tests/accounts/test_user_tags.py)
    without reading each matching user: a tag of 4% of a million users counts in a few ms
    instead of 60 or more."""
    active = {n: v for n, v in filterset.form.cleaned_data.items() if v not in (None, "", [])}
    filters = [(filterset.filters[name], value) for name, value in active.items()]
    tags = [(f, v) for f, v in filters if isinstance(f, TagsFilter)]
    dates = [(f, v) for f, v in filters if isinstance(f, MomentFilter)]
    wanted = [TagsFilter.tags(v) for f, v in tags if not f.exclude]
    unwanted = [t for f, v in tags if f.exclude for t in TagsFilter.tags(v)]
    on_created = all(f.field_name == "created_at" for f, _ in dates)
    if len(wanted) != 1 or len(tags) + len(dates) != len(filters) or not on_created:
        return None
    rows = UserTag.objects.filter(application_id=application_id)
    matches = rows.filter(tag__in=wanted[0])
    for date_filter, value in dates:  # the same filter, on UserTag's copy of created_at
        matches = date_filter.filter(matches, value)
    if unwanted:
        matches = matches.exclude(user_id__in=rows.filter(tag__in=unwanted).values("user_id"))
    if len(wanted[0]) == 1 and not unwanted:
        return matches.count()  # one row per user and tag: no DISTINCT needed
    return matches.values("user_id").distinct().count()


def _form_errors(errors) -> dict:
    """django-filter names `id__in`; a client wrote `id[in]`."""
    out = {}
    for name, messages in errors.items():
        field, _, op = name.partition("__")
        key = f"{field}[{op}]" if op else field
        out[key] = [str(m) for m in messages]
    return out


# --- v1 (deprecated): filter[]=TYPE FIELD OPERATOR VALUE, order=DIR TYPE FIELD -----------

V1_FIELDS = {
    **{name: field for name, field in V2_FIELDS.items()},
    "website": UserField("website", "string"),
    "avatar": UserField("avatar", "string"),
    "external_user_id": UserField("external_user_id", "integer"),
    "blob_id": UserField("blob_id", "integer"),
    "timezone": UserField("timezone", "integer"),
}
V1_OPERATORS = {
    "eq": "exact",
    "ne": "exact",
    "gt": "gt",
    "lt": "lt",
    "ge": "gte",
    "le": "lte",
    "in": "in",
    "between": "range",
}
V1_TYPES = ("number", "string", "date", "integer", "float", "boolean")


def _v1_operators(field: UserField) -> tuple[str, ...]:
    return ("eq", "ne", "in") if field.kind == "tags" else tuple(V1_OPERATORS)


def _v1_filter(field: UserField, op: str) -> django_filters.Filter:
    column, kind = field.column, field.kind
    if kind == "tags":
        form_field = ListField(child=text_field(), required=False)
        return TagsFilter(column, exclude=op == "ne", form_field=form_field)
    if op == "between":
        return RangeFilter(column, form_field=PairField(child=field.form_field(), required=False))
    if op == "in":
        return ListFilter(column, "in", form_field=ListField(child=field.form_field()))
    if kind == "date":
        return MomentFilter(
            column, V1_OPERATORS[op], exclude=op == "ne", form_field=field.form_field()
        )
    lookup = "iexact" if kind == "istring" and op in ("eq", "ne") else V1_OPERATORS[op]
    return ScalarFilter(column, lookup, exclude=op == "ne", form_field=field.form_field())


UsersV1FilterSet = _build_filterset(
    "UsersV1FilterSet",
    {
        f"{name}__{op}": _v1_filter(field, op)
        for name, field in V1_FIELDS.items()
        for op in _v1_operators(field)
    },
)


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, dict):
        return list(value.values())
    return value if isinstance(value, list) else [value]


def v1_data(params: dict) -> dict:
    """`filter[]=number id gt 51946` (or `+` for the spaces) -> {"id__gt": "51946"}."""
    data, errors = {}, {}
    for item in _as_list(params.get("filter")):
        parts = str(item).replace("+", " ").split(None, 3)
        if len(parts) != 4 or parts[0] not in V1_TYPES:
            raise QueryError({"filter": [f"{item!r} is not 'TYPE FIELD OPERATOR VALUE'"]}, 400)
        _, name, op, value = parts
        field = V1_FIELDS.get(name)
        if field is None:
            errors[name] = ["is not a filter of users"]
        elif op not in V1_OPERATORS:
            raise QueryError({name: [f"unknown operator {op!r}"]}, status=400)
        elif op not in _v1_operators(field):
            errors[name] = [f"can't be used with the operator {op}"]
        else:
            data[f"{name}__{op}"] = value
    if errors:
        raise QueryError(errors)
    return data


def v1_order(params: dict) -> str | None:
    """`order=desc string full_name` -> "-full_name"."""
    raw = params.get("order")
    if not raw:
        return None
    parts = str(raw).replace("+", " ").split()
    if len(parts) != 3 or parts[0] not in ("asc", "desc"):
        raise QueryError({"order": ["must be 'asc|desc TYPE FIELD'"]}, status=400)
    field = V1_FIELDS.get(parts[2])
    if field is None or field.kind == "tags":
        raise QueryError({"order": [f"can't sort by {parts[2]}"]})
    return ("-" if parts[0] == "desc" else "") + field.column


def v1_page(params: dict) -> Page:
    page = _int_param(params, "page", 1, 1, 10**9)
    per_page = _int_param(params, "per_page", 10, 1, MAX_LIMIT)
    return Page(offset=(page - 1) * per_page, limit=per_page)


def users_v1(application_id: int, params: dict, *, hide_contacts: bool):
    """(page of users, total, page) for GET /users. Raises QueryError."""
    page = v1_page(params)
    data = v1_data(params)
    order = v1_order(params)
    if hide_contacts:
        _refuse_hidden_searches(data, order)
    return run(UsersV1FilterSet, application_id, data, order, page)


def _refuse_hidden_searches(data: dict, order: str | None) -> None:
    """Contacts hidden from other users match by exact value only (eq, in): a range or a
    sort over them would let a client enumerate them."""
    hidden = {
        name
        for key in data
        for name, _, op in [key.partition("__")]
        if name in CONTACTS and op not in ("eq", "in")
    }
    if order and order.lstrip("-") in CONTACTS:
        hidden.add(order.lstrip("-"))
    if hidden:
        raise QueryError(
            {
                n: ["is hidden from other users here: search it by exact value"]
                for n in sorted(hidden)
            }
        )


def filtered_v1(application_id: int, data: dict, page: Page):
    """The v1 lookups that take one parameter (by_full_name, by_tags)."""
    return run(UsersV1FilterSet, application_id, data, None, page)
