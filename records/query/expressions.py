"""The typed SQL expression of a class field, in one place.

A record's fields live in the JSONB column `data`. To compare or sort a field, the query
compiler needs it as a typed SQL value, and an index on that field is only used by the
planner when the index is built on *exactly the same expression*. So both come from the
templates below: `field_expression(field)` renders one into a Django expression for the
compiler, `index_statements(klass, field)` renders the same one into CREATE/DROP INDEX.

    integer   ((data ->> 'f'))::bigint
    float     ((data ->> 'f'))::double precision
    string    ((data ->> 'f')) COLLATE "C"        code-point order (API.md §5)
    date      ((data ->> 'f')) COLLATE "C"        fixed-format UTC ISO strings sort as dates
    boolean   ((data ->> 'f'))::boolean
    array     (data -> 'f')                       jsonb, for @> (GIN index)
    location  longitude ((data -> 'f') ->> 0)::double precision, latitude ->> 1

Field names are put into the SQL as literals, never taken from a request as such: the name
comes from a `Field` row and must match the schema's name rule, checked again here.
"""

from django.db.models import BigIntegerField, BooleanField, F, FloatField, Func, TextField
from django.db.models.fields.json import JSONField
from django.utils.functional import cached_property

from classes.models import NAME_RE, FieldType

_TEXT = "(({data} ->> '{name}'))"
TEMPLATES = {
    FieldType.INTEGER: _TEXT + "::bigint",
    FieldType.FLOAT: _TEXT + "::double precision",
    FieldType.STRING: _TEXT + ' COLLATE "C"',
    FieldType.DATE: _TEXT + ' COLLATE "C"',
    FieldType.BOOLEAN: _TEXT + "::boolean",
    FieldType.ARRAY: "({data} -> '{name}')",
    FieldType.FILE: "({data} -> '{name}')",
}
LONGITUDE = "((({data} -> '{name}') ->> 0))::double precision"
LATITUDE = "((({data} -> '{name}') ->> 1))::double precision"
RAW_TEXT = _TEXT  # the field as plain text (default collation), for `ctn`

_OUTPUT = {
    FieldType.INTEGER: BigIntegerField,  # 64 bits, as stored (a 32-bit IntegerField
    # would judge a larger value out of range and drop or empty the condition)
    FieldType.FLOAT: FloatField,
    FieldType.STRING: TextField,
    FieldType.DATE: TextField,
    FieldType.BOOLEAN: BooleanField,
    FieldType.ARRAY: JSONField,
    FieldType.FILE: JSONField,
}


class FieldSql(Func):
    """One template above, applied to the `data` column of whatever alias the query uses."""

    def __init__(self, template: str, name: str, output_field):
        if not NAME_RE.match(name):
            raise ValueError(f"not a field name: {name!r}")
        super().__init__(F("data"), output_field=output_field)
        self.sql_template = template
        self.field_name = name

    def as_sql(self, compiler, connection, **extra):
        data_sql, params = compiler.compile(self.source_expressions[0])
        return self.sql_template.format(data=data_sql, name=self.field_name), params

    @cached_property
    def identity(self):
        # Django derives an expression's identity (its equality and hash, asked for while
        # compiling ORDER BY) from the constructor's signature with `inspect`, for every
        # new instance; the SQL of this one depends on these values alone.
        return (FieldSql, self.sql_template, self.field_name, type(self.output_field))


def field_expression(field) -> FieldSql:
    """The typed expression used to compare and sort `field` (a classes.models.Field).
    For a Location field this is the longitude; see `location_expressions`."""
    if field.type == FieldType.LOCATION:
        return location_expressions(field)[0]
    return FieldSql(TEMPLATES[FieldType(field.type)], field.name, _OUTPUT[field.type]())


def location_expressions(field) -> tuple[FieldSql, FieldSql]:
    return (
        FieldSql(LONGITUDE, field.name, FloatField()),
        FieldSql(LATITUDE, field.name, FloatField()),
    )


def text_expression(field) -> FieldSql:
    """The field as text in the database's own collation (case-insensitive matching)."""
    return FieldSql(RAW_TEXT, field.name, TextField())


def index_name(klass, field) -> str:
    return f"record_c{klass.pk}_f{field.pk}"


def _index_sql(field) -> tuple[str, str]:
    """(USING clause, column list) of the index that serves `field_expression(field)`.

    B-tree indexes end with `id`: lists are ordered by `_id` (and use it as the tie-break of
    every sort), so `(expression, id)` answers `field = v ORDER BY id LIMIT n` from the index
    alone. Without it the planner, which keeps no statistics on a partial index's
    expression, guesses thousands of matches and walks the primary key instead: ~1 s on a
    class of a million records against well under a millisecond (bench/records_bench.py).
    """
    if not NAME_RE.match(field.name):
        raise ValueError(f"not a field name: {field.name!r}")
    fmt = {"data": "data", "name": field.name}
    if field.type == FieldType.LOCATION:
        return "", f"({LONGITUDE.format(**fmt)}), ({LATITUDE.format(**fmt)}), id"
    expression = TEMPLATES[FieldType(field.type)].format(**fmt)
    if field.type in (FieldType.ARRAY, FieldType.FILE):
        return " USING gin", f"({expression})"
    return "", f"({expression}), id"


def index_statements(klass, field) -> tuple[str, str]:
    """(create_sql, drop_sql) for an index on one field of one class.

    Both are CONCURRENTLY, so they must run outside a transaction (autocommit), e.g.
    `with connection.cursor() as c: c.execute(create_sql)`. The partial predicate
    `object_class_id = <id>` matches the class filter every record query carries.
    """
    using, columns = _index_sql(field)
    name = index_name(klass, field)
    create = (
        f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON records_record{using} '
        f"({columns}) WHERE object_class_id = {int(klass.pk)}"
    )
    drop = f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"'
    return create, drop
