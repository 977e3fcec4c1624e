"""The `todos` collection: each user's todo documents and every query on them.

A todo document:
    {_id, owner_id, owner_username, title, title_lc, description, done, due, due_sort, tags,
     version, created, updated}
Every query carries `owner_id`, so another user's todo is simply not found. `title_lc` is the
case-folded title (prefix search and the `title` sort); `due` is the ISO date string or None and
`due_sort` its never-null sort copy (undated todos last in `due` order); `version` counts writes
(stores/versioned.py, the one conditional-write path).
"""

from __future__ import annotations

from collections.abc import Collection as Versions
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from bson import ObjectId
from pymongo.collection import Collection

from core import clock
from core.text import fold
from db import get_db
from stores.exceptions import NotFound
from stores.insert_once import insert_once
from stores.keyset import ASCENDING, DESCENDING, Page, PageQuery, SortOrder, find_page
from stores.text_match import prefix_range
from stores.users import is_active_user
from stores.versioned import delete_versioned, update_versioned

# Where undated todos sort: after every real date (the largest ms-precision BSON datetime a
# `date` cannot reach), so `due` lists them last and `-due` first.
UNDATED = datetime(9999, 12, 31, 23, 59, 59, 999000)

# What a writable field is reset to by a full replace (PUT) or defaults to on create.
DEFAULTS: dict[str, Any] = {"description": "", "done": False, "due": None, "tags": []}

# The `sort` values of `GET /todos`, each walking its own (owner_id, key, _id) index of db.py.
# The indexes are hinted: without a hint, DocumentDB's planner sorts the owner's todos in memory.
SORTS = {
    "-created": SortOrder("created", DESCENDING, index="owner_created_id_desc"),
    "created": SortOrder("created", ASCENDING, index="owner_created_id"),
    "due": SortOrder("due_sort", ASCENDING, index="owner_due_sort_id"),
    "-due": SortOrder("due_sort", DESCENDING, index="owner_due_sort_id_desc"),
    "title": SortOrder("title_lc", ASCENDING, index="owner_title_lc_id"),
}
# With `q`, the title prefix range narrows best: every sort reads that range, then sorts the
# matches (few, as a prefix of one user's titles).
SORTS_WITH_PREFIX = {
    name: SortOrder(sort.field, sort.direction, index="owner_title_lc_id")
    for name, sort in SORTS.items()
}
DEFAULT_SORT = "-created"

TODO = "todo"


def todos() -> Collection:
    return get_db().todos


def _derived(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The stored form of validated writable fields: their normalised copies added."""
    stored = dict(fields)
    if "title" in stored:
        stored["title_lc"] = fold(stored["title"])
    if "due" in stored:
        due: date | None = stored["due"]
        stored["due"] = due.isoformat() if due else None
        stored["due_sort"] = datetime(due.year, due.month, due.day) if due else UNDATED
    if "tags" in stored:
        stored["tags"] = list(dict.fromkeys(stored["tags"]))  # a set, in the order given
    return stored


def build_todo_document(
    owner_id: ObjectId,
    owner_username: str,
    fields: Mapping[str, Any],
    object_id: ObjectId | None = None,
) -> dict[str, Any]:
    """A new todo from validated fields (missing optional ones take their defaults), with the
    `_id` given (a retried create's, see stores/insert_once.py) or a new one."""
    now = clock.utcnow()
    return {
        "_id": object_id or ObjectId(),
        "owner_id": owner_id,
        "owner_username": owner_username,
        **_derived({**DEFAULTS, **fields}),
        "version": 1,
        "created": now,
        "updated": now,
    }


def insert_todo(document: dict[str, Any]) -> dict[str, Any]:
    """Insert a new todo; NotFound("user") when its owner's account is being deleted.

    The owner is looked at after the write: a deletion that started after this request's token
    check may already have removed the owner's todos, so the todo is taken back here. (Either
    this look sees the deletion's mark, or the deletion's sweep of todos comes after the insert.)
    """
    document = insert_once(todos(), document)
    if not is_active_user(document["owner_id"]):
        todos().delete_one({"_id": document["_id"]})
        raise NotFound("user")
    return document


def find_todo(owner_id: ObjectId, todo_id: ObjectId) -> dict[str, Any] | None:
    return todos().find_one({"_id": todo_id, "owner_id": owner_id})


def replace_todo(
    owner_id: ObjectId,
    todo_id: ObjectId,
    fields: Mapping[str, Any],
    if_versions: Versions[int] | None = None,
) -> dict[str, Any]:
    """Full replace (PUT): every writable field is set, missing optional ones to their defaults."""
    return _write(owner_id, todo_id, _derived({**DEFAULTS, **fields}), if_versions)


def update_todo(
    owner_id: ObjectId,
    todo_id: ObjectId,
    changes: Mapping[str, Any],
    if_versions: Versions[int] | None = None,
) -> dict[str, Any]:
    """Partial update (PATCH): only the given fields change."""
    return _write(owner_id, todo_id, _derived(changes), if_versions)


def _write(
    owner_id: ObjectId,
    todo_id: ObjectId,
    changes: Mapping[str, Any],
    if_versions: Versions[int] | None,
) -> dict[str, Any]:
    scope = {"_id": todo_id, "owner_id": owner_id}
    return update_versioned(
        todos(), scope, changes, what=TODO, key=todo_id, stamp="updated", if_versions=if_versions
    )


def delete_todo(
    owner_id: ObjectId, todo_id: ObjectId, if_versions: Versions[int] | None = None
) -> None:
    """Delete the caller's todo (only at one of `if_versions`, when given)."""
    scope = {"_id": todo_id, "owner_id": owner_id}
    delete_versioned(todos(), scope, what=TODO, key=todo_id, if_versions=if_versions)


def delete_todos_of_owner(owner_id: ObjectId) -> int:
    """Delete every todo of a user (account deletion); returns how many there were."""
    return todos().delete_many({"owner_id": owner_id}).deleted_count


def list_sorts(title_prefix: str = "") -> dict[str, SortOrder]:
    """The sort orders of a todo list, each with the index that serves it under these filters."""
    return SORTS_WITH_PREFIX if title_prefix else SORTS


def list_filter(
    owner_id: ObjectId,
    done: bool | None = None,
    tags: list[str] | tuple[str, ...] = (),
    title_prefix: str = "",
) -> dict[str, Any]:
    """The MongoDB filter of a todo list: always the owner's, narrowed by the optional filters."""
    query: dict[str, Any] = {"owner_id": owner_id}
    if done is not None:
        query["done"] = done
    if len(tags) == 1:
        query["tags"] = tags[0]
    elif tags:
        query["tags"] = {"$all": list(tags)}
    if title_prefix:
        query["title_lc"] = prefix_range(fold(title_prefix))
    return query


def list_todos(owner_id: ObjectId, page: PageQuery, **filters: Any) -> Page:
    """One page of the owner's todos, narrowed by `list_filter`'s optional filters."""
    return find_page(todos(), list_filter(owner_id, **filters), page)
