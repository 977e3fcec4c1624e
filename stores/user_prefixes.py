"""The `user_prefixes` collection: what user search walks, one row per (user, search prefix).

A user is found by every prefix, up to SEARCH_PREFIX_MAX characters, of its lowercase username
and of each word of its name. Each distinct prefix is one small row of scalar fields:

    {_id: "<user id>:<prefix>", prefix, username_lc, created}

so an equality on `prefix` followed by a sort key is a plain compound index on scalars, which
every MongoDB-wire engine walks in order (a multikey array of prefixes on the user document is
walked in order by MongoDB but not by DocumentDB, FerretDB 2 or Azure DocumentDB: they read and
sort every match). The indexes are in db.INDEXES; stores/user_search.py reads them.

The `_id` puts a user's rows next to each other in the `_id` index (a range finds them all,
whatever name they were written for), and, inside one prefix, orders them as the users' own
`_id`s: the tie-breaker of the `created` sorts. `username_lc` and `created` never change after
sign-up, so only the set of prefixes can go stale (a rename, a deletion).

No transactions (FerretDB 1.24 has none), so the write order decides what a crash can leave:
rows are added *before* the user document that needs them and removed *after* it stopped
needing them. A crash in between leaves extra rows, never a missing one: a search drops a row
whose user is gone or no longer matches, and `flask users reindex-search` (`repair_rows`)
removes them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from core.text import composed
from db import get_db
from stores.duplicate_keys import duplicates_only

SEARCH_PREFIX_MAX = 16
WORD = re.compile(r"\w+", re.UNICODE)
# What a row is made from: a user's normalised search terms and its sort keys.
ROW_SOURCE = {"username_lc": 1, "name_words": 1, "created": 1}
# The users' indexes of the earlier design (a `search_prefixes` array on each user document).
OBSOLETE_USER_INDEXES = ("search_username", "search_created_id")
REPAIR_BATCH = 1_000
# Rows per insert or delete command: some MongoDB-wire servers take at most 25,000 documents per
# insert, and a seeding batch of 10,000 users has some 230,000 rows.
ROWS_PER_COMMAND = 20_000


def name_words(name: str) -> list[str]:
    """The distinct lowercase words of a display name, in order (what name search matches).

    The name is composed first: a word split on a decomposed accent would lose its tail.
    """
    return list(dict.fromkeys(word.lower() for word in WORD.findall(composed(name or ""))))


def search_prefixes(username_lc: str, words: Iterable[str]) -> list[str]:
    """Every prefix, up to SEARCH_PREFIX_MAX characters, of the username and of each name word.

    `username_lc` and `words` are the normalised (lowercase) forms stored on the user document.
    """
    prefixes: dict[str, None] = {}
    for term in map(composed, (username_lc, *words)):
        for end in range(1, min(len(term), SEARCH_PREFIX_MAX) + 1):
            prefixes[term[:end]] = None
    return list(prefixes)


def user_matches(user: Mapping[str, Any], q: str) -> bool:
    """Whether the username or a name word of `user` starts with the normalised `q`.

    The definition search keeps to: a row is only a pointer, this decides. It agrees with the
    rows: `q` up to SEARCH_PREFIX_MAX characters is one of the user's `search_prefixes` exactly
    when a (composed) term starts with it; a longer `q` must also start a stored term whole.
    """
    terms = (user["username_lc"], *user.get("name_words", []))
    indexed = q[:SEARCH_PREFIX_MAX]
    if not any(composed(term).startswith(indexed) for term in terms):
        return False
    return len(q) <= SEARCH_PREFIX_MAX or any(term.startswith(q) for term in terms)


def row_id(user_id: ObjectId, prefix: str) -> str:
    return f"{user_id}:{prefix}"


def user_id_of(row_id_: str) -> ObjectId:
    return ObjectId(row_id_[:24])


def rows_of_user(user_id: ObjectId) -> dict[str, Any]:
    """The `_id` range holding every row of one user (":" + 1 is ";")."""
    return {"$gte": f"{user_id}:", "$lt": f"{user_id};"}


def prefix_rows(user: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows a user document (with its `_id`) is found by."""
    return [
        {
            "_id": row_id(user["_id"], prefix),
            "prefix": prefix,
            "username_lc": user["username_lc"],
            "created": user["created"],
        }
        for prefix in search_prefixes(user["username_lc"], user.get("name_words", []))
    ]


def rows_in(db: Database) -> Collection:
    return db.user_prefixes


def user_prefixes() -> Collection:
    return rows_in(get_db())


def add_rows(collection: Collection, rows: list[dict[str, Any]]) -> list[str]:
    """Insert rows, unordered; rows already there are skipped. The `_id`s of the new ones."""
    return [
        new
        for start in range(0, len(rows), ROWS_PER_COMMAND)
        for new in _insert_new(collection, rows[start : start + ROWS_PER_COMMAND])
    ]


def _insert_new(collection: Collection, rows: list[dict[str, Any]]) -> list[str]:
    try:
        collection.insert_many(rows, ordered=False)
        return [row["_id"] for row in rows]
    except BulkWriteError as error:
        present = {e["index"] for e in duplicates_only(error)}
        return [row["_id"] for index, row in enumerate(rows) if index not in present]


def remove_rows(collection: Collection, ids: list[str]) -> int:
    """Delete the rows with these `_id`s; how many there were."""
    return sum(
        collection.delete_many(
            {"_id": {"$in": ids[start : start + ROWS_PER_COMMAND]}}
        ).deleted_count
        for start in range(0, len(ids), ROWS_PER_COMMAND)
    )


def add_rows_for(user: Mapping[str, Any]) -> None:
    """Make a user findable: call before the user document (or its new name) is written."""
    add_rows(user_prefixes(), prefix_rows(user))


def remove_rows_of(user_id: ObjectId) -> None:
    """Remove every row of a user: after a registration refused its document (409), and before
    a deleted account's document goes."""
    user_prefixes().delete_many({"_id": rows_of_user(user_id)})


def resync_rows(user_id: ObjectId) -> None:
    """After a rename: remove the rows the stored name no longer needs, then re-add the ones it
    does.

    Reads the user document as it is now, not as the caller wrote it, so a rename that lost a
    race or failed (409, a changed password) leaves the winner's rows. Two renames of one user
    at once can each remove rows the other's name needs; whichever re-reads last re-adds them
    (both end by re-reading and re-adding), so when both are done nothing is missing.
    """
    collection, users = user_prefixes(), get_db().users
    current = users.find_one({"_id": user_id}, ROW_SOURCE)
    stale: dict[str, Any] = {"_id": rows_of_user(user_id)}
    if current is not None:
        stale["prefix"] = {"$nin": [row["prefix"] for row in prefix_rows(current)]}
    collection.delete_many(stale)
    current = users.find_one({"_id": user_id}, ROW_SOURCE)
    if current is not None:
        add_rows(collection, prefix_rows(current))


@dataclass
class RepairReport:
    users: int = 0
    added: int = 0
    removed: int = 0
    dropped_indexes: tuple[str, ...] = ()


def repair_rows(db: Database, batch: int = REPAIR_BATCH) -> RepairReport:
    """Make the rows match the users exactly (idempotent): add the missing ones, remove the stale
    ones (renamed users, users that are gone), and drop the earlier design's user indexes.

    Walks users and rows together in `_id` order, `batch` users at a time: each batch's rows are
    the `_id` range from the end of the previous batch to its last user, so the rows of users
    that no longer exist are in some batch's range too. Users whose rows were removed are read
    again and their rows re-added, so a rename running meanwhile keeps its rows (see
    `resync_rows`).
    """
    report = RepairReport()
    existing = set(db.users.index_information())
    report.dropped_indexes = tuple(name for name in OBSOLETE_USER_INDEXES if name in existing)
    for name in report.dropped_indexes:
        db.users.drop_index(name)
    collection = rows_in(db)
    lower = ""
    for users in _batches(db.users.find({}, ROW_SOURCE).sort("_id", 1), batch):
        upper = f"{users[-1]['_id']};"
        _repair_range(db, collection, users, {"$gte": lower, "$lt": upper}, report)
        lower = upper
    _repair_range(db, collection, [], {"$gte": lower}, report)
    return report


def build_rows_if_missing(db: Database) -> RepairReport | None:
    """Build every row when users exist but no row does (the first release of this design, or a
    database seeded by an earlier one); None when there was nothing to build."""
    if rows_in(db).find_one({}, {"_id": 1}) is not None:
        return None
    if db.users.find_one({}, {"_id": 1}) is None:
        return None
    return repair_rows(db)


def _repair_range(
    db: Database,
    collection: Collection,
    users: list[dict[str, Any]],
    id_range: dict[str, str],
    report: RepairReport,
) -> None:
    wanted = {row["_id"]: row for user in users for row in prefix_rows(user)}
    present = {row["_id"] for row in collection.find({"_id": id_range}, {"_id": 1})}
    stale = present - set(wanted)
    if stale:
        report.removed += remove_rows(collection, sorted(stale))
        present -= stale
        touched = list({user_id_of(row) for row in stale})
        for user in db.users.find({"_id": {"$in": touched}}, ROW_SOURCE):
            wanted.update((row["_id"], row) for row in prefix_rows(user))
    missing = [row for key, row in wanted.items() if key not in present]
    report.added += len(add_rows(collection, missing))
    report.users += len(users)


def _batches(documents: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for document in documents:
        chunk.append(document)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
