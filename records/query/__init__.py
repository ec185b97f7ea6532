"""The query language of `/data/{class}` (API.md §5), independent of any request layer.

    search(klass, params, caller)            a list, count or aggregation, as a SearchResult
    matching(klass, criteria, caller, action) the queryset of records matched by criteria
                                               that the caller may `action` (update/delete)

`params` is the nested dict of a request (`{"age": {"gt": "28"}, "sort_desc": "name"}`);
errors are `QueryError`s (400 malformed, 422 unknown field or bad value). The API, the
by-criteria writes and the console's record browser all call these two functions.
"""

from dataclasses import dataclass, field

from records.query.compile import aggregate, filtered, ordered, page
from records.query.parse import Query, QueryError, parse

__all__ = ["Query", "QueryError", "SearchResult", "matching", "parse", "search"]


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


def search(klass, params: dict, caller) -> SearchResult:
    """Run a list request for `caller`: one SQL query, permission test included."""
    query = parse(klass, params)
    queryset = filtered(klass, query, caller, "read")
    if query.count:
        return SearchResult(query, count=queryset.count())
    if query.is_aggregate:
        return SearchResult(query, groups=aggregate(klass, query, queryset))
    return SearchResult(query, records=page(query, ordered(klass, query, queryset)))


def matching(klass, criteria: dict, caller, action: str):
    """Records of `klass` matched by `criteria` on which `caller` may perform `action`,
    in `_id` order."""
    query = parse(klass, criteria, criteria_only=True)
    return filtered(klass, query, caller, action).order_by("id")
