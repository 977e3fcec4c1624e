"""Keyset pages over a MongoDB collection: sort orders, the "after this key" filter, one page.

Each page is an index range scan bounded by `limit + 1`: a cursor page starts right after the
last item's (sort key, `_id`), never at a `skip`. Page mode (a `skip` inside a window of
PAGE_WINDOW items) serves classic page links. What the query string says and how cursors are
signed is the web side's business (web/pagination.py); this module only runs queries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection

# How deep page mode reaches (page * per_page); deeper, clients follow cursors.
PAGE_WINDOW = 10_000


@dataclass(frozen=True)
class SortOrder:
    """One allowed `sort` value: the stored field it orders by, and how.

    `unique` marks a key no two documents share (e.g. a normalised username): the next page then
    starts with a plain `$gt`. Otherwise the cursor also keeps `_id` to break ties. The field must
    hold one BSON type in every matching document (store a normalised copy if it could be null).
    `index` names the index to hint, when the planner needs telling.
    """

    field: str
    direction: int = ASCENDING
    unique: bool = False
    index: str | None = None

    @property
    def mongo_sort(self) -> list[tuple[str, int]]:
        if self.unique:
            return [(self.field, self.direction)]
        return [(self.field, self.direction), ("_id", self.direction)]


@dataclass(frozen=True)
class PageQuery:
    """Which page to read: in `sort` order, `limit` items after the key `after` (cursor mode) or
    after skipping `skip` (page mode, which also counts the matches)."""

    sort: SortOrder
    limit: int
    after: tuple[Any, ObjectId] | None = None
    skip: int = 0
    count: bool = False


class Page(NamedTuple):
    docs: list[dict[str, Any]]
    has_more: bool
    total: int | None = None


def after_cursor(sort: SortOrder, last_key: Any, last_id: ObjectId) -> dict[str, Any]:
    """The filter for "strictly after (last_key, last_id)" in the sort's order.

    For a non-unique key the range starts *at* the last key and excludes only the ties already
    seen. This form keeps an index range scan; the look-alike `$or` of (`key > last`) and
    (`key == last and _id > id`) makes some engines walk every row before the cursor.
    """
    forward = sort.direction == ASCENDING
    if sort.unique:
        return {sort.field: {"$gt" if forward else "$lt": last_key}}
    return {
        sort.field: {"$gte" if forward else "$lte": last_key},
        "$nor": [{sort.field: last_key, "_id": {"$lte" if forward else "$gte": last_id}}],
    }


def merge_filters(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """AND two filters, folding operator ranges on the same field into one condition when possible."""
    merged = dict(base)
    for key, condition in extra.items():
        if key not in merged:
            merged[key] = condition
            continue
        current = merged[key]
        both_ranges = isinstance(current, dict) and isinstance(condition, dict)
        if (
            both_ranges
            and not set(current) & set(condition)
            and all(op.startswith("$") for op in [*current, *condition])
        ):
            merged[key] = {**current, **condition}
        else:
            return {"$and": [dict(base), dict(extra)]}
    return merged


def find_page(
    collection: Collection,
    query_filter: Mapping[str, Any],
    page: PageQuery,
    *,
    projection: Mapping[str, Any] | None = None,
    count: Callable[[], int] | None = None,
) -> Page:
    """Read one page of `query_filter`: `limit + 1` documents tell whether more follow.

    Page mode also counts the matches: `count` overrides how (e.g. an estimated count when there
    is no filter); cursor mode never counts.
    """
    criteria = dict(query_filter)
    if page.after is not None:
        criteria = merge_filters(criteria, after_cursor(page.sort, *page.after))
    cursor = (
        collection.find(criteria, projection)
        .sort(page.sort.mongo_sort)
        .skip(page.skip)
        .limit(page.limit + 1)
    )
    if page.sort.index:
        cursor = cursor.hint(page.sort.index)
    docs = list(cursor)
    total = None
    if page.count:
        total = count() if count else collection.count_documents(query_filter)
    return Page(docs[: page.limit], len(docs) > page.limit, total)


__all__ = ["ASCENDING", "DESCENDING", "PAGE_WINDOW", "Page", "PageQuery", "SortOrder", "find_page"]
