"""The query language of `/data/{class}` (API.md §5), independent of any request layer.

    search(klass, params, caller)            a list, count or aggregation, as a SearchResult
    matching(klass, criteria, caller, action) the queryset of records matched by criteria
                                               that the caller may `action` (update/delete)
    count_up_to(klass, criteria, caller, cap)  how many records `search` would list, up to cap

`params` is the nested dict of a request (`{"age": {"gt": "28"}, "sort_desc": "name"}`);
errors are `QueryError`s (400 malformed, 422 unknown field or bad value). The API, the
by-criteria writes and the console's record browser all call these two functions.
"""

from dataclasses import dataclass, field

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from accounts.caller import Unconfirmed
from records.models import Record
from records.query import sql
from records.query.compile import aggregate, filtered, ordered, page
from records.query.parse import Query, QueryError, parse
from records.query.rows import fetch

__all__ = ["Query", "QueryError", "SearchResult", "count_up_to", "matching", "parse", "search"]


@dataclass
class SearchResult:
    query: Query
    records: list = field(default_factory=list)
    groups: list[dict] | None = None
    count: int | None = None

    @property
    def skip(self) -> int:
        return self.query.skip

    @property
    def limit(self) -> int:
        return -1 if self.query.last else self.query.limit


def search(klass, params: dict, caller, *, listed: bool = False) -> SearchResult:
    """Run a list request for `caller`: one SQL query, permission test included. Its SQL
    is written by `sql` (lists and counts) or compiled by the ORM (`near`, aggregates).
    `listed`: the records need only the columns a list shows (rows.LISTED; the API's list,
    which leaves `permissions` out): `sql`'s pages read only those, as rows.Listed rows
    rather than Records (the ORM's pages stay Records)."""
    query = parse(klass, params)
    if caller.guard is not None:  # a read cannot tell a session gone from nothing found
        raise Unconfirmed
    if sql.supports(query):
        if query.count:
            return SearchResult(query, count=sql.count(klass, query, caller))
        return SearchResult(query, records=sql.page(klass, query, caller, listed=listed))
    queryset = filtered(klass, query, caller, "read")
    if query.count:
        return SearchResult(query, count=queryset.count())
    if query.is_aggregate:
        return SearchResult(query, groups=aggregate(klass, query, queryset))
    return SearchResult(query, records=page(query, ordered(klass, query, queryset)))


def matching(klass, criteria: dict, caller, action: str):
    """Records of `klass` matched by `criteria` on which `caller` may perform `action`,
    in `_id` order: a queryset, which the by-criteria writes lock and the console's export
    streams. Its condition is the one `sql` writes, so the ORM compiles only the frame."""
    query = parse(klass, criteria, criteria_only=True)
    if not sql.supports(query):
        return filtered(klass, query, caller, action).order_by("id")
    try:
        condition, params = sql.where(klass, query, caller, action)
    except EmptyResultSet:
        return Record.objects.none()
    written = RawSQL(condition, params, output_field=BooleanField())
    return Record.objects.filter(written).order_by("id")


def count_up_to(klass, criteria: dict, caller, cap: int) -> int:
    """How many records of `klass` match `criteria` and `caller` may read, counting no
    further than `cap` (the console's pager: an exact count of a million rows costs ~0.2 s).

    The matching rows are planned as for a full answer, behind `OFFSET 0` (which PostgreSQL
    never flattens into the outer query), and only the counting stops at `cap`. Planned
    with the LIMIT in sight, PostgreSQL would walk the whole class in its belief that
    matches come early, where an index on the filtered field finds them all at once
    (1.1 s against ~10 ms for `n > 990000` in a class of 1,000,000, bench/console_bench.py).
    """
    query = parse(klass, criteria, criteria_only=True)
    try:
        if sql.supports(query):
            ids, params = sql.select_ids(klass, query, caller)
        else:
            queryset = filtered(klass, query, caller, "read").values("id")
            ids, params = queryset.query.sql_with_params()
    except EmptyResultSet:  # a condition nothing can meet (a caller who may read nothing)
        return 0
    statement = (
        f"SELECT count(*) FROM (SELECT 1 FROM ({ids} OFFSET 0) AS matched LIMIT %s) AS capped"
    )
    return fetch(statement, [*params, cap], DEFAULT_DB_ALIAS)[0][0]
