"""A parsed Query -> one Django queryset over `records_record` (one SQL statement).

Each field a query mentions becomes an alias (`xf<field pk>`) bound to its typed expression
from `expressions.py`, so comparisons and sorts use exactly the expression an index on the
field is built on. Values only ever travel as query parameters. The permission condition of
`records.permissions.visible_q` is ANDed in, so counts, skip and limit are right.
"""

import math
from decimal import Decimal

from django.db.models import Avg, Count, DecimalField, F, FloatField, Func, Max, Min, Q, Sum

from classes.models import FieldType
from records.models import Record
from records.query.expressions import field_expression, location_expressions, text_expression
from records.query.parse import Query, SystemField
from records.query.rows import records_of

EARTH_RADIUS_M = 6_371_008.8
METRES_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180


class Aliases:
    """The expressions a query needs, by alias name, collected while building conditions."""

    def __init__(self):
        self.exprs = {}

    def typed(self, fld) -> str:
        if isinstance(fld, SystemField):
            return fld.column
        name = f"xf{fld.pk}"
        self.exprs.setdefault(name, field_expression(fld))
        return name

    def text(self, fld) -> str:
        """The field as text (its NULL test works for every type, JSON null included)."""
        if isinstance(fld, SystemField):
            return fld.column
        name = f"xt{fld.pk}"
        self.exprs.setdefault(name, text_expression(fld))
        return name

    def location(self, fld) -> tuple[str, str]:
        lon, lat = f"xf{fld.pk}_lon", f"xf{fld.pk}_lat"
        self.exprs.setdefault(lon, location_expressions(fld)[0])
        self.exprs.setdefault(lat, location_expressions(fld)[1])
        return lon, lat


# --- the operator table -------------------------------------------------------------------
# Each takes (aliases, field, value) and answers a Q.


def array_candidates(value) -> list:
    """A value compared with array elements: "5" from a query string also matches 5."""
    out = [value]
    if isinstance(value, str):
        try:
            number = float(value)
            if math.isfinite(number):
                out.append(int(number) if number.is_integer() else number)
        except ValueError:
            pass
    return out


def _array_has(alias: str, value) -> Q:
    condition = Q()
    for candidate in array_candidates(value):
        condition |= Q(**{f"{alias}__contains": [candidate]})
    return condition


def _is_null(aliases, fld) -> Q:
    return Q(**{f"{aliases.text(fld)}__isnull": True})


def c_eq(aliases, fld, value) -> Q:
    if value is None:
        return _is_null(aliases, fld)
    if fld.type == FieldType.LOCATION:
        lon, lat = aliases.location(fld)
        return Q(**{lon: value[0], lat: value[1]})
    alias = aliases.typed(fld)
    if fld.type == FieldType.ARRAY:
        return _array_has(alias, value)
    return Q(**{alias: value})


def c_ne(aliases, fld, value) -> Q:
    """Not equal, and a record without the value counts as not equal."""
    if value is None:
        return ~_is_null(aliases, fld)
    return _is_null(aliases, fld) | ~c_eq(aliases, fld, value)


def c_compare(lookup):
    def build(aliases, fld, value) -> Q:
        return Q(**{f"{aliases.typed(fld)}__{lookup}": value})

    return build


def c_in(aliases, fld, values) -> Q:
    present = [v for v in values if v is not None]
    condition = _is_null(aliases, fld) if len(present) < len(values) else Q(pk__in=[])
    if fld.type == FieldType.ARRAY:
        for value in present:
            condition |= _array_has(aliases.typed(fld), value)
    elif present:
        condition |= Q(**{f"{aliases.typed(fld)}__in": present})
    return condition


def c_nin(aliases, fld, values) -> Q:
    """None of the values; a record without a value qualifies unless null is listed."""
    present = [v for v in values if v is not None]
    condition = ~_is_null(aliases, fld) if len(present) < len(values) else Q()
    if present:
        condition &= _is_null(aliases, fld) | ~c_in(aliases, fld, present)
    return condition


def c_all(aliases, fld, values) -> Q:
    condition = Q()
    for value in values:
        condition &= _array_has(aliases.typed(fld), value)
    return condition


def c_ctn(aliases, fld, text) -> Q:
    # Django escapes % and _ (and \) for LIKE, so they match literally.
    return Q(**{f"{aliases.text(fld)}__icontains": text})


CONDITIONS = {
    "eq": c_eq,
    "ne": c_ne,
    "gt": c_compare("gt"),
    "gte": c_compare("gte"),
    "lt": c_compare("lt"),
    "lte": c_compare("lte"),
    "in": c_in,
    "nin": c_nin,
    "all": c_all,
    "ctn": c_ctn,
}


# --- near ---------------------------------------------------------------------------------


class Haversine(Func):
    """Great-circle distance in metres from a fixed point to (lon, lat) expressions."""

    output_field = FloatField()

    def __init__(self, lon, lat, point_lon: float, point_lat: float):
        super().__init__(F(lon), F(lat))
        self.point = (float(point_lon), float(point_lat))

    def as_sql(self, compiler, connection, **extra):
        (lon_sql, lon_params), (lat_sql, lat_params) = (
            compiler.compile(e) for e in self.source_expressions
        )
        plon, plat = self.point
        sql = (
            f"(2 * {EARTH_RADIUS_M} * asin(least(1, sqrt("
            f"power(sin(radians({lat_sql} - %s) / 2), 2) + "
            f"cos(radians(%s)) * cos(radians({lat_sql})) * "
            f"power(sin(radians({lon_sql} - %s) / 2), 2)))))"
        )
        return sql, (*lat_params, plat, plat, *lat_params, *lon_params, plon)


def _bounding_box(lon_alias, lat_alias, near) -> Q:
    """A box around the circle that a btree on (lon, lat) can serve; exact test follows."""
    dlat = near.radius / METRES_PER_DEGREE
    box = Q(**{f"{lat_alias}__gte": near.lat - dlat, f"{lat_alias}__lte": near.lat + dlat})
    cos_lat = math.cos(math.radians(min(89.999999, abs(near.lat) + dlat)))
    dlon = dlat / cos_lat if cos_lat > 0 else 360
    if dlon >= 180 or abs(near.lat) + dlat >= 90:
        return box
    west, east = near.lon - dlon, near.lon + dlon
    ranges = [(max(west, -180), min(east, 180))]
    if west < -180:
        ranges.append((west + 360, 180))
    if east > 180:
        ranges.append((-180, east - 360))
    lon_q = Q(pk__in=[])
    for low, high in ranges:
        lon_q |= Q(**{f"{lon_alias}__gte": low, f"{lon_alias}__lte": high})
    return box & lon_q


# --- the query ----------------------------------------------------------------------------


def filtered(klass, query: Query, caller, action: str = "read"):
    """The records of `klass` that match the query's conditions and that `caller` may
    perform `action` on; not ordered, not sliced."""
    return conditioned(Record.objects.for_class(klass).visible_to(caller, action), query)


def conditioned(queryset, query: Query):
    """`queryset` narrowed to the rows that match the query's conditions (its terms, its
    `or` group and `near`). Any queryset over a model with the records table's column
    names works: the journal's record versions use it to test a subscription's conditions
    (events/journal.py), with exactly the SQL a list runs."""
    aliases = Aliases()
    condition = Q()
    for term in query.terms:
        condition &= CONDITIONS[term.op](aliases, term.field, term.value)
    if query.or_terms:
        group = Q(pk__in=[])
        for term in query.or_terms:
            group |= CONDITIONS[term.op](aliases, term.field, term.value)
        condition &= group
    near_q = Q()
    if query.near is not None:
        lon, lat = aliases.location(query.near.field)
        near_q = _bounding_box(lon, lat, query.near)
    if aliases.exprs:
        queryset = queryset.alias(**aliases.exprs)
    queryset = queryset.filter(condition & near_q)
    if query.near is not None:
        queryset = queryset.alias(
            xdistance=Haversine(lon, lat, query.near.lon, query.near.lat)
        ).filter(xdistance__lte=query.near.radius)
    return queryset


def ordered(klass, query: Query, queryset):
    """Sorted as asked (nearest first for `near` without a sort), `_id` breaking ties."""
    if not query.sort:
        if query.near is not None:
            return queryset.order_by("xdistance", "id")
        return queryset.order_by("id")
    aliases = Aliases()
    keys = []
    for fld, descending in query.sort:
        expr = F(aliases.typed(fld))
        keys.append(expr.desc() if descending else expr.asc())
    queryset = queryset.alias(**aliases.exprs) if aliases.exprs else queryset
    tiebreak = "-id" if query.sort[-1][1] else "id"
    return queryset.order_by(*keys, tiebreak)


def page(query: Query, queryset) -> list:
    """One page of records: skip/limit, or only the last one for limit=-1."""
    if query.last:
        return records_of(queryset.reverse()[:1])
    return records_of(queryset[query.skip : query.skip + query.limit])


_CALCS = {"avg": Avg, "min": Min, "max": Max, "sum": Sum, "count": Count}


def aggregate(klass, query: Query, queryset) -> list[dict]:
    """One item per group: {"<group_by>": value, "<field>": {"avg": 41.0, ...}}."""
    annotations = {
        f"calc{index}": _CALCS[fn](_calc_input(fld, fn))
        for index, (fld, fn) in enumerate(query.calcs)
    }
    if query.group_by is not None:
        rows = (
            queryset.annotate(xgroup=_value(query.group_by))
            .values("xgroup")
            .annotate(**annotations)
            .order_by("xgroup")
        )
        rows = list(rows[query.skip : query.skip + query.limit])
    else:
        rows = [queryset.aggregate(**annotations)]
    return [_group_item(query, row) for row in rows]


def _calc_input(fld, fn):
    """What an aggregate reads. A sum or average of Float values is taken in `numeric`:
    in double precision, three values near 1.7e308 overflow and PostgreSQL refuses."""
    expression = _value(fld)
    if fn in ("avg", "sum") and getattr(fld, "type", None) == FieldType.FLOAT:
        return Func(expression, template="(%(expressions)s)::numeric", output_field=DecimalField())
    return expression


def _value(fld):
    """A field's typed expression itself (aggregates cannot read an alias)."""
    return F(fld.column) if isinstance(fld, SystemField) else field_expression(fld)


def _group_item(query: Query, row: dict) -> dict:
    item = {}
    if query.group_by is not None:
        item[query.group_by.name] = row["xgroup"]
    for index, (fld, fn) in enumerate(query.calcs):
        item.setdefault(fld.name, {})[fn] = _number(row[f"calc{index}"], fn, fld)
    return item


def _number(value, fn, fld):
    if value is None:
        return None
    if fn == "avg":
        return float(value)
    if isinstance(value, Decimal):
        if fld.type == FieldType.INTEGER:
            return int(value)
        number = float(value)
        # Past the double range the exact sum is written as a JSON integer (values that
        # large are whole numbers), as an Integer sum past 64 bits is.
        return number if math.isfinite(number) else int(value)
    return value
