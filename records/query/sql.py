"""The SQL of a list or count, written from the expression templates without the ORM.

`compile.py` states a query as a Django queryset, and the ORM compiles it to SQL on every
request: about half a millisecond of Python for a list or a count. This module writes the
same statement directly, term by term, from the templates of `expressions.py` (which the
indexes are built on, so the planner still uses them) and the permission gate of
`records.permissions`. Its statement is the ORM's, character for character, with the same
parameters, but for the class: its id is written into the text (below). tests/records/
test_sql.py compares the two for every operator, every field type and every permission
level, and runs both.

    supports(query)                        False for `near` and aggregates: the ORM's
    where(klass, query, caller, action)    -> (sql, params) of the WHERE condition
    page(klass, query, caller)             -> one page of Records (page_sql: its statement;
                                              listed=True: only the columns a list shows,
                                              as rows.Listed rows)
    count(klass, query, caller)            -> how many records match (count_sql: its statement)
    select_ids(klass, query, caller)       -> (sql, params) selecting the matching ids

A condition no row can meet (a caller who may read nothing, `in` of nothing) raises
Django's `EmptyResultSet`, as the ORM does, and no statement is sent.

Lists and counts are sent with their parameters apart and prepared by a connection that
keeps sending the same text (rows.fetch, `shaped`), so PostgreSQL parses and plans each
shape once, not on every request. That is why the class is in the text: a field's index
is partial, one per class (`WHERE object_class_id = <id>`, expressions.py), and a plan
made without the values can use it only when the statement names the class itself. The
class id is an integer read from the database, never a client's value.

The conditions are built exactly as compile.py builds its Q objects (the functions below
mirror its operator table one for one), in `Cond`, a small tree that combines and renders
as Django's Q and WhereNode do (the same flattening and parentheses). Values only ever
travel as parameters, typed as the ORM types them; field names come from the schema and
are checked by the templates' name rule.
"""

from django.core.exceptions import EmptyResultSet
from django.db import router
from psycopg.types.json import Jsonb
from psycopg.types.numeric import Int8

from classes.models import NAME_RE, FieldType
from records.models import Record
from records.permissions import READ, class_level, is_allowed
from records.query.compile import array_candidates
from records.query.expressions import LATITUDE, LONGITUDE, RAW_TEXT, TEMPLATES
from records.query.parse import Query, SystemField
from records.query.rows import LISTED, fetch, records_from

TABLE = f'"{Record._meta.db_table}"'
DATA = f'{TABLE}."data"'
SELECT = "SELECT " + ", ".join(f'{TABLE}."{f.column}"' for f in Record._meta.concrete_fields)
_COLUMNS = {f.attname: f.column for f in Record._meta.concrete_fields}
SELECT_LISTED = "SELECT " + ", ".join(f'{TABLE}."{_COLUMNS[name]}"' for name in LISTED)
COUNT = 'SELECT COUNT(*) AS "__count"'


def supports(query: Query) -> bool:
    """Whether this module writes the query: everything but `near` and aggregates."""
    return query.near is None and not query.calcs


# --- the condition tree --------------------------------------------------------------------


class Cond:
    """A condition: one SQL leaf, or an AND/OR of conditions, possibly negated.

    `&`, `|` and `~` combine as Django's Q does, and `render` writes what Django's
    WhereNode writes for the same tree: children of the same connector merged into their
    parent, a group of two or more in parentheses, `NOT (...)` for a negation; a child that
    can match nothing is left out of an OR and empties an AND."""

    __slots__ = ("sql", "params", "connector", "children", "negated")

    def __init__(self, sql=None, params=(), connector="AND", children=None, negated=False):
        self.sql, self.params = sql, params
        self.connector, self.children, self.negated = connector, children or [], negated

    def __bool__(self) -> bool:  # Q() is empty: it matches everything and combines away
        return self.sql is not None or bool(self.children)

    def _group(self) -> "Cond":
        """As a node with children (a leaf stands for Q(leaf): one child, AND)."""
        return Cond(children=[self]) if self.sql is not None else self

    def _add(self, other: "Cond", connector: str) -> None:
        if other.sql is not None:  # a leaf: what `_group` would make of it merges in whole
            self.children.append(other)
        elif not other.negated and (other.connector == connector or len(other.children) == 1):
            self.children.extend(other.children)
        else:
            self.children.append(other)

    def _combine(self, other: "Cond", connector: str) -> "Cond":
        if not self:
            return other
        if not other:
            return self
        node = Cond(connector=connector)
        node._add(self, connector)
        node._add(other, connector)
        return node

    def __and__(self, other):
        return self._combine(other, "AND")

    def __or__(self, other):
        return self._combine(other, "OR")

    def __invert__(self):
        node = self._group()
        return Cond(connector=node.connector, children=list(node.children), negated=True)

    def render(self) -> tuple[str, list]:
        """(sql, params); '' matches every row; EmptyResultSet if no row can match."""
        if self.sql is not None:
            if self.sql is _NO_ROW:
                raise EmptyResultSet
            return self.sql, list(self.params)
        node = Cond(connector=self.connector)  # as the ORM merges a Q into its WHERE
        for child in self.children:
            if child:
                node._add(child, self.connector)
        # WhereNode.as_sql: a child that matches nothing empties an AND and drops out of
        # an OR; one that matches everything drops out of an AND and fills an OR.
        if self.connector == "AND":
            full_needed, empty_needed = len(node.children), 1
        else:
            full_needed, empty_needed = 1, len(node.children)
        parts, params = [], []
        for child in node.children:
            try:
                sql, child_params = child.render()
            except EmptyResultSet:
                empty_needed -= 1
            else:
                if sql:
                    parts.append(sql)
                    params.extend(child_params)
                else:
                    full_needed -= 1
            if empty_needed == 0:
                if self.negated:
                    return "", []
                raise EmptyResultSet
            if full_needed == 0:
                if self.negated:
                    raise EmptyResultSet
                return "", []
        sql = f" {self.connector} ".join(parts)
        if not sql:
            return "", []
        if self.negated:
            return f"NOT ({sql})", params
        return (f"({sql})" if len(parts) > 1 else sql), params


_NO_ROW = object()
NOTHING = Cond(_NO_ROW)  # Q(pk__in=[]): no row
EVERYTHING = Cond()  # Q(): every row


def leaf(sql: str, *params) -> Cond:
    return Cond(sql, params)


# --- expressions and lookups -----------------------------------------------------------------


def column(name: str) -> str:
    return f'{TABLE}."{name}"'


def typed(fld) -> str:
    """The expression compile.py's `Aliases.typed` binds: a column, or a field's template."""
    if isinstance(fld, SystemField):
        return column(fld.column)
    return _template(TEMPLATES[FieldType(fld.type)], fld.name)


def text(fld) -> str:
    if isinstance(fld, SystemField):
        return column(fld.column)
    return _template(RAW_TEXT, fld.name)


def location(fld) -> tuple[str, str]:
    return _template(LONGITUDE, fld.name), _template(LATITUDE, fld.name)


def _template(template: str, name: str) -> str:
    if not NAME_RE.match(name):
        raise ValueError(f"not a field name: {name!r}")
    return template.format(data=DATA, name=name)


def _value(fld, value):
    """A value as the ORM passes it: integers as int8, as for its BigIntegerFields."""
    if fld.type == FieldType.INTEGER and not isinstance(value, bool):
        return Int8(value)
    return value


def equals(fld, expr: str, value) -> Cond:
    if fld.type == FieldType.BOOLEAN and isinstance(value, bool):
        return leaf(expr if value else f"NOT {expr}")  # as the ORM writes `= true/false`
    return leaf(f"{expr} = %s", _value(fld, value))


def is_null(fld) -> Cond:
    return leaf(f"{text(fld)} IS NULL")


def contains(expr: str, value) -> Cond:
    return leaf(f"{expr} @> %s", Jsonb(value))


# --- the operator table (compile.py's, one for one) ------------------------------------------


def array_has(fld, value) -> Cond:
    condition = EVERYTHING
    for candidate in array_candidates(value):
        condition |= contains(typed(fld), [candidate])
    return condition


def c_eq(fld, value) -> Cond:
    if value is None:
        return is_null(fld)
    if fld.type == FieldType.LOCATION:
        lon, lat = location(fld)  # Q(**{lon: .., lat: ..}) sorts its keywords: lat first
        return leaf(f"{lat} = %s", value[1]) & leaf(f"{lon} = %s", value[0])
    if fld.type == FieldType.ARRAY:
        return array_has(fld, value)
    return equals(fld, typed(fld), value)


def c_ne(fld, value) -> Cond:
    if value is None:
        return ~is_null(fld)
    return is_null(fld) | ~c_eq(fld, value)


def c_compare(operator: str):
    def build(fld, value) -> Cond:
        return leaf(f"{typed(fld)} {operator} %s", _value(fld, value))

    return build


def c_in(fld, values) -> Cond:
    present = [v for v in values if v is not None]
    condition = is_null(fld) if len(present) < len(values) else NOTHING
    if fld.type == FieldType.ARRAY:
        for value in present:
            condition |= array_has(fld, value)
    elif present:
        condition |= _in(fld, present)
    return condition


def _in(fld, values) -> Cond:
    distinct = list(dict.fromkeys(values))  # the ORM drops repeated values
    placeholders = ", ".join(["%s"] * len(distinct))
    return leaf(f"{typed(fld)} IN ({placeholders})", *(_value(fld, v) for v in distinct))


def c_nin(fld, values) -> Cond:
    present = [v for v in values if v is not None]
    condition = ~is_null(fld) if len(present) < len(values) else EVERYTHING
    if present:
        condition &= is_null(fld) | ~c_in(fld, present)
    return condition


def c_all(fld, values) -> Cond:
    condition = EVERYTHING
    for value in values:
        condition &= array_has(fld, value)
    return condition


def c_ctn(fld, value) -> Cond:
    escaped = str(value).replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
    return leaf(f"UPPER({text(fld)}::text) LIKE UPPER(%s)", f"%{escaped}%")


CONDITIONS = {
    "eq": c_eq,
    "ne": c_ne,
    "gt": c_compare(">"),
    "gte": c_compare(">="),
    "lt": c_compare("<"),
    "lte": c_compare("<="),
    "in": c_in,
    "nin": c_nin,
    "all": c_all,
    "ctn": c_ctn,
}


# --- the permission gate ---------------------------------------------------------------------


def visible(caller, klass, action: str) -> Cond:
    """`records.permissions.visible_q`, written here: the rows `caller` may `action`. For
    a caller built from an earlier read of its session (Caller.guard, config.lane), also
    the condition that the session is still as read: no row for a session gone or
    changed, in the same statement."""
    condition = _permitted(caller, klass, action)
    if caller.guard is not None:
        guard, params = caller.guard
        condition &= leaf(guard, *params)
    return condition


def _permitted(caller, klass, action: str) -> Cond:
    if caller.is_admin:
        return EVERYTHING
    if klass.uses_class_permissions(action):
        access, ids, groups = class_level(klass, action)
        if access == "owner":
            if caller.user is None:
                return NOTHING
            return leaf(f"{column('user_id')} = %s", Int8(caller.user_id))
        return EVERYTHING if is_allowed(caller, access, ids, groups, None, action) else NOTHING
    access = column(f"{action}_access")
    if caller.user is None:
        return leaf(f"{access} = %s", "open") if action == READ else NOTHING
    condition = leaf(f"{access} = %s", "open") | (
        leaf(f"{access} = %s", "owner") & leaf(f"{column('user_id')} = %s", Int8(caller.user_id))
    )
    condition |= leaf(f"{access} = %s", "open_for_users_ids") & leaf(
        f"{column(f'{action}_ids')} @> (ARRAY[%s])::bigint[]", caller.user_id
    )
    if caller.groups:
        placeholders = ", ".join(["%s"] * len(caller.groups))
        condition |= leaf(f"{access} = %s", "open_for_groups") & leaf(
            f"{column(f'{action}_groups')} && (ARRAY[{placeholders}])::varchar(100)[]",
            *caller.groups,
        )
    return condition


# --- statements ------------------------------------------------------------------------------


def where(klass, query: Query, caller, action: str = READ) -> tuple[str, list]:
    """The WHERE condition of `filtered(klass, query, caller, action)`: the class, the
    permission gate, the terms and the `or` group. Raises EmptyResultSet for no row."""
    condition = EVERYTHING
    for term in query.terms:
        condition &= CONDITIONS[term.op](term.field, term.value)
    if query.or_terms:
        group = NOTHING
        for term in query.or_terms:
            group |= CONDITIONS[term.op](term.field, term.value)
        condition &= group
    whole = leaf(f"{column('object_class_id')} = {int(klass.pk)}") & visible(caller, klass, action)
    return (whole & condition).render()


def order_by(query: Query, reverse: bool = False) -> str:
    """compile.ordered's ORDER BY: the sort keys, `_id` breaking ties; a key the ORM has
    seen already (in either direction) it leaves out, and so does this."""
    keys = [(typed(fld), descending) for fld, descending in query.sort]
    keys.append((column("id"), bool(query.sort) and query.sort[-1][1]))
    seen, parts = set(), []
    for expr, descending in keys:
        if expr not in seen:
            seen.add(expr)
            parts.append(f"{expr} {'ASC' if descending == reverse else 'DESC'}")
    return ", ".join(parts)


def page_sql(klass, query: Query, caller, *, listed: bool = False) -> tuple[str, list]:
    """The statement of compile.page(query, ordered(..., filtered(...))): one page, or the
    last record for `limit=-1`, of every column or (`listed`) of rows.LISTED. Raises
    EmptyResultSet when it can find nothing."""
    limit, skip = (1, 0) if query.last else (query.limit, query.skip)
    if limit == 0:  # the ORM sends nothing for an empty slice
        raise EmptyResultSet
    condition, params = where(klass, query, caller)
    select = SELECT_LISTED if listed else SELECT
    sql = f"{select} FROM {TABLE} WHERE {condition} ORDER BY {order_by(query, query.last)}"
    return sql + f" LIMIT {limit}" + (f" OFFSET {skip}" if skip else ""), params


def page(klass, query: Query, caller, *, listed: bool = False) -> list:
    try:
        sql, params = page_sql(klass, query, caller, listed=listed)
    except EmptyResultSet:
        return []
    return records_from(sql, params, router.db_for_read(Record), listed=listed)


def select_ids(klass, query: Query, caller, action: str = READ) -> tuple[str, list]:
    """filtered(klass, query, caller, action).values("id"): the matching ids, unordered."""
    condition, params = where(klass, query, caller, action)
    return f'SELECT {column("id")} AS "id" FROM {TABLE} WHERE {condition}', params


def count_sql(klass, query: Query, caller) -> tuple[str, list]:
    """The statement of filtered(klass, query, caller).count(). Raises EmptyResultSet when
    it can find nothing."""
    condition, params = where(klass, query, caller)
    return f"{COUNT} FROM {TABLE} WHERE {condition}", params


def count(klass, query: Query, caller) -> int:
    """filtered(klass, query, caller).count()."""
    try:
        sql, params = count_sql(klass, query, caller)
    except EmptyResultSet:
        return 0
    return fetch(sql, params, router.db_for_read(Record), shaped=True)[0][0]
