"""Conditional writes on versioned documents: the one path every `If-Match` write takes.

A versioned document keeps `version` (a write counter: what ETags name and `If-Match` compares)
and a timestamp of its last write. Each write holds the document's write lock (stores/locks.py,
which says when and why it is needed), puts the accepted versions in the write's own filter, and,
when nothing matched, decides between NotFound (no such document in the caller's scope) and Stale
(it exists at another version): of two writers holding the same ETag exactly one wins and the
other gets a Stale that changed nothing.
"""

from __future__ import annotations

from collections.abc import Collection as Versions
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.collection import Collection

from core import clock
from stores.exceptions import Busy, NotFound, Stale
from stores.locks import write_lock

ONE_MS = timedelta(milliseconds=1)
# Under the lock a write needs a second attempt only when the stamp is not behind our clock.
WRITE_ATTEMPTS = 3


def version_guard(if_versions: Versions[int] | None) -> dict[str, Any]:
    return {} if if_versions is None else {"version": {"$in": sorted(if_versions)}}


def update_versioned(
    collection: Collection,
    scope: Mapping[str, Any],
    changes: Mapping[str, Any],
    *,
    what: str,
    key: object,
    stamp: str,
    if_versions: Versions[int] | None = None,
) -> dict[str, Any]:
    """Apply `changes` to the document `scope` finds, in one conditional write; return it new.

    `what` names the kind of document ("todo") and `key` its public key: together they name the
    write lock.

    `stamp` (e.g. `updated`) must change on every write, also when two land in the same
    millisecond (or after a writer whose clock runs ahead): the first attempt requires the stored
    stamp to be older than now; if it is not, the next attempt steps one millisecond past it,
    pinned to the exact version it read.
    """
    with write_lock(f"{what}:{key}", what):
        now = clock.utcnow()
        guard: dict[str, Any] = {stamp: {"$lt": now}, **version_guard(if_versions)}
        for _attempt in range(WRITE_ATTEMPTS):
            written = collection.find_one_and_update(
                {**scope, **guard},
                {"$set": {**changes, stamp: now}, "$inc": {"version": 1}},
                return_document=ReturnDocument.AFTER,
            )
            if written is not None:
                return written
            current = collection.find_one(scope, {"version": 1, stamp: 1})
            if current is None:
                raise NotFound(what)
            if if_versions is not None and current["version"] not in if_versions:
                raise Stale(what)
            now = max(clock.utcnow(), current[stamp] + ONE_MS)
            guard = {"version": current["version"]}
    raise Busy(what)


def delete_versioned(
    collection: Collection,
    scope: Mapping[str, Any],
    *,
    what: str,
    key: object,
    if_versions: Versions[int] | None = None,
) -> None:
    """Delete the document `scope` finds (only at one of `if_versions`, when given)."""
    with write_lock(f"{what}:{key}", what):
        deleted = collection.delete_one({**scope, **version_guard(if_versions)}).deleted_count
    if deleted == 1:
        return
    if if_versions is not None and collection.count_documents(scope, limit=1):
        raise Stale(what)
    raise NotFound(what)
