"""User search and listing (`GET /users`): every page is an in-order index walk bounded by
`limit + 1`, on MongoDB and on the engines that cannot walk a multikey index in order.

`q` is a case-insensitive prefix of the username or of any word of the name. Prefix *ranges* on
those fields cannot serve a sorted page: a range on the leading key of a compound index does not
come out ordered by the next key, and a range on a multikey field (the name words) never does.
So search walks the `user_prefixes` rows (stores/user_prefixes.py): one row per (user, prefix)
with the sort keys beside it, and one index per sort order, (prefix, username_lc) or
(prefix, created, _id), each in both directions. A search is an *equality* on `prefix`, so the
index hands out the rows already in sort order; a cursor page starts at the cursor's key. The
page's users are then read by `_id` (one `$in`) and checked against `q`: a row left behind by an
interrupted rename or deletion is skipped, and the walk reads on.

A `q` longer than SEARCH_PREFIX_MAX walks the rows of its first SEARCH_PREFIX_MAX characters and
keeps the users the whole `q` matches; so few users share that many leading characters that the
walk stays short. `q` only ever reaches MongoDB as a string compared for equality, never as a
pattern, so `.*` or `(a+)+$` are just characters.

Without `q`, each sort order has its own index on `users` (one per direction, see db.py) that the
query hints, so the listing walks it in order. Page mode's `total` is the collection's estimated
count without `q`, and with `q` a count that stops at the page window (see `count_matches`).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING

from db import get_db
from stores.keyset import (
    PAGE_WINDOW,
    Page,
    PageQuery,
    SortOrder,
    after_cursor,
    find_page,
    merge_filters,
)
from stores.user_prefixes import (
    SEARCH_PREFIX_MAX,
    row_id,
    user_id_of,
    user_matches,
    user_prefixes,
)

DEFAULT_SORT = "username"
# What a listed user needs: the rendered fields plus the sort keys the cursor is made of.
LIST_PROJECTION = {
    field: 1 for field in ("username", "username_lc", "email", "name", "role", "created", "updated")
}
# A searched user also needs its name words, to be checked against `q`.
SEARCH_PROJECTION = {**LIST_PROJECTION, "name_words": 1}

# Without `q`: one index per sort order on `users`, each walked in its own direction.
USER_SORTS: dict[str, SortOrder] = {
    "username": SortOrder("username_lc", ASCENDING, unique=True, index="username_lc_id"),
    "-username": SortOrder("username_lc", DESCENDING, unique=True, index="username_lc_id_desc"),
    "created": SortOrder("created", ASCENDING, index="created_id"),
    "-created": SortOrder("created", DESCENDING, index="created_id_desc"),
}

# With `q`: equality on one prefix, then the sort key, from one `user_prefixes` index per sort
# order. A row's `_id` orders like its user's `_id` inside one prefix (the ties of `created`).
SEARCH_SORTS: dict[str, SortOrder] = {
    "username": SortOrder("username_lc", ASCENDING, unique=True, index="prefix_username"),
    "-username": SortOrder("username_lc", DESCENDING, unique=True, index="prefix_username_desc"),
    "created": SortOrder("created", ASCENDING, index="prefix_created_id"),
    "-created": SortOrder("created", DESCENDING, index="prefix_created_id_desc"),
}


def sorts_for(q: str | None) -> dict[str, SortOrder]:
    """The allowed sorts (same names either way) with the index each one hints."""
    return SEARCH_SORTS if q else USER_SORTS


def matching_users(
    q: str,
    sort: SortOrder,
    batch: int,
    after: tuple[Any, ObjectId] | None = None,
    skip: int = 0,
) -> Iterator[dict[str, Any]]:
    """The users the normalised `q` matches, in `sort` order: after the user key `after` (a
    cursor) or past the first `skip` rows (page mode). Lazy: reads `batch` rows at a time, and a
    further batch only when rows of the one before were skipped (stale, or not matching a `q`
    longer than the rows' prefixes)."""
    key = q[:SEARCH_PREFIX_MAX]
    start = (after[0], row_id(after[1], key)) if after else None
    while True:
        criteria: dict[str, Any] = {"prefix": key}
        if start is not None:
            criteria = merge_filters(criteria, after_cursor(sort, *start))
        rows = list(
            user_prefixes()
            .find(criteria, {sort.field: 1})
            .sort(sort.mongo_sort)
            .hint(sort.index)
            .skip(skip)
            .limit(batch)
        )
        ids = [user_id_of(row["_id"]) for row in rows]
        found = {
            user["_id"]: user
            for user in get_db().users.find({"_id": {"$in": ids}}, SEARCH_PROJECTION)
        }
        yield from (found[i] for i in ids if i in found and user_matches(found[i], q))
        if len(rows) < batch:
            return
        start, skip = (rows[-1][sort.field], rows[-1]["_id"]), 0


def count_matches(q: str, cap: int = PAGE_WINDOW) -> int:
    """How many users `q` matches, counting no further than `cap` (page mode's reach).

    An exact count of a one-letter prefix at a million users would read a sizeable part of the
    index on every request; page mode cannot go past the window anyway, so the count stops
    there: `total` is exact up to `cap` and reads `cap` beyond it. It counts rows, so a row an
    interrupted rename left behind counts until `users reindex-search` removes it; past
    SEARCH_PREFIX_MAX characters it counts the users the whole `q` matches.
    """
    if len(q) <= SEARCH_PREFIX_MAX:
        return user_prefixes().count_documents({"prefix": q}, limit=cap)
    users = matching_users(q, SEARCH_SORTS[DEFAULT_SORT], batch=100)
    return sum(1 for _ in islice(users, cap))


def list_users(q: str | None, page: PageQuery) -> Page:
    """One page of users: all of them, or those matching the normalised `q`."""
    collection = get_db().users
    if not q:
        count = collection.estimated_document_count
        return find_page(collection, {}, page, projection=LIST_PROJECTION, count=count)
    wanted = page.limit + 1
    users = matching_users(q, page.sort, wanted, page.after, page.skip)
    docs = list(islice(users, wanted))
    total = count_matches(q) if page.count else None
    return Page(docs[: page.limit], len(docs) > page.limit, total)
