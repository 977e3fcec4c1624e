"""User search and listing (`GET /users`): every page is one index scan bounded by `limit + 1`.

`q` is a case-insensitive prefix of the username or of any word of the name. Prefix *ranges* on
those fields cannot serve a sorted page on their own: a range on the leading key of a compound
index does not come out ordered by the next key, and a range on a multikey field (the name words)
never does. So each user document also stores `search_prefixes`: every prefix (up to
SEARCH_PREFIX_MAX characters) of `username_lc` and of each name word. A search is then an
*equality* on that array, and the compound indexes (search_prefixes, username_lc) and
(search_prefixes, created, _id) hand the matches out already in sort order, either direction:
a first page reads `limit + 1` index keys, a cursor page starts at the cursor's key.

A `q` longer than SEARCH_PREFIX_MAX uses its first SEARCH_PREFIX_MAX characters as the index key
and checks the whole prefix on the fetched documents; so few users share that many leading
characters that the scan stays short. `q` only ever reaches MongoDB as a string compared for
equality or as range bounds, never as a pattern, so `.*` or `(a+)+$` are just characters.

Without `q`, each sort order has its own index (one per direction, see db.py) that the query
hints, so the listing walks it in order; page mode's `total` is the collection's estimated count,
and with `q` a count that stops at the page window (see `count_matches`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pymongo import ASCENDING, DESCENDING

from core.text import composed
from db import get_db
from stores.keyset import PAGE_WINDOW, Page, PageQuery, SortOrder, find_page
from stores.text_match import prefix_range

WORD = re.compile(r"\w+", re.UNICODE)
SEARCH_PREFIX_MAX = 16
DEFAULT_SORT = "username"
# What a listed user needs: the rendered fields plus the sort keys the cursor is made of.
LIST_PROJECTION = {
    field: 1 for field in ("username", "username_lc", "email", "name", "role", "created", "updated")
}

# Without `q`: one index per sort order, each walked in its own direction.
USER_SORTS: dict[str, SortOrder] = {
    "username": SortOrder("username_lc", ASCENDING, unique=True, index="username_lc_id"),
    "-username": SortOrder("username_lc", DESCENDING, unique=True, index="username_lc_id_desc"),
    "created": SortOrder("created", ASCENDING, index="created_id"),
    "-created": SortOrder("created", DESCENDING, index="created_id_desc"),
}

# With `q`: equality on one search prefix, then the sort key, from one index per sort key.
SEARCH_SORTS: dict[str, SortOrder] = {
    "username": SortOrder("username_lc", ASCENDING, unique=True, index="search_username"),
    "-username": SortOrder("username_lc", DESCENDING, unique=True, index="search_username"),
    "created": SortOrder("created", ASCENDING, index="search_created_id"),
    "-created": SortOrder("created", DESCENDING, index="search_created_id"),
}


def sorts_for(q: str | None) -> dict[str, SortOrder]:
    """The allowed sorts (same names either way) with the index each one hints."""
    return SEARCH_SORTS if q else USER_SORTS


def search_prefixes(username_lc: str, words: Iterable[str]) -> list[str]:
    """Every prefix, up to SEARCH_PREFIX_MAX characters, of the username and of each name word.

    `username_lc` and `words` are the normalised (lowercase) forms stored on the document.
    """
    prefixes: dict[str, None] = {}
    for term in map(composed, (username_lc, *words)):
        for end in range(1, min(len(term), SEARCH_PREFIX_MAX) + 1):
            prefixes[term[:end]] = None
    return list(prefixes)


def name_words(name: str) -> list[str]:
    """The distinct lowercase words of a display name, in order (what name search matches).

    The name is composed first: a word split on a decomposed accent would lose its tail.
    """
    return list(dict.fromkeys(word.lower() for word in WORD.findall(composed(name or ""))))


def search_prefixes_for(username: str, name: str) -> list[str]:
    """The `search_prefixes` a user document with this username and display name must store.

    For every write that sets a username or a name (sign-up, name change, seeding).
    """
    return search_prefixes(username.lower(), name_words(name))


def search_filter(q: str) -> dict[str, Any]:
    """The filter for users whose username or a name word starts with `q` (already normalised)."""
    criteria: dict[str, Any] = {"search_prefixes": q[:SEARCH_PREFIX_MAX]}
    if len(q) > SEARCH_PREFIX_MAX:
        bounds = prefix_range(q)
        # $elemMatch: both bounds must hold for the same word, not for any two words.
        criteria["$or"] = [{"username_lc": bounds}, {"name_words": {"$elemMatch": bounds}}]
    return criteria


def count_matches(query_filter: Mapping[str, Any], cap: int = PAGE_WINDOW) -> int:
    """How many users match, counting no further than `cap` (page mode's reach).

    An exact count of a one-letter prefix at a million users would read a sizeable part of the
    search index on every request; page mode cannot go past the window anyway, so the count
    stops there: `total` is exact up to `cap` and reads `cap` beyond it.
    """
    return get_db().users.count_documents(query_filter, limit=cap)


def list_users(q: str | None, page: PageQuery) -> Page:
    """One page of users: all of them, or those matching the normalised `q`."""
    collection = get_db().users
    if q:
        query_filter = search_filter(q)
        count = lambda: count_matches(query_filter)  # noqa: E731
    else:
        query_filter = {}
        count = collection.estimated_document_count
    return find_page(collection, query_filter, page, projection=LIST_PROJECTION, count=count)
