"""The `users` collection: account documents and the queries on them.

A user document:
    {_id, username, username_lc, email, email_lc, name, name_words, search_prefixes,
     password_hash, role, created, updated}
`username_lc` / `email_lc` are the lowercase copies that unique indexes keep unique
case-insensitively; `name_words` (the lowercase words of `name`) and `search_prefixes` are what
user search matches (stores/user_search.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from core.clock import utcnow
from db import get_db
from stores.exceptions import Conflict
from stores.user_search import name_words, search_prefixes_for


def users() -> Collection:
    return get_db().users


def build_user_document(
    username: str, email: str, password_hash: str, name: str = "", role: str = "user"
) -> dict[str, Any]:
    """A new user document with its normalised fields (also used by bulk seeding)."""
    now = utcnow()
    return {
        "username": username,
        "username_lc": username.lower(),
        "email": email,
        "email_lc": email.lower(),
        "name": name,
        "name_words": name_words(name),
        "search_prefixes": search_prefixes_for(username, name),
        "password_hash": password_hash,
        "role": role,
        "created": now,
        "updated": now,
    }


@contextmanager
def unique_fields(fields: Mapping[str, Any], exclude_id: ObjectId | None = None) -> Iterator[None]:
    """Turn a unique-index violation into a 409 naming the field that is taken.

    `fields` holds the normalised values being written (`username_lc`, `email_lc`). Servers word
    duplicate-key errors differently (FerretDB does not name the index), so on that rare path
    one look-up finds out which value is taken.
    """
    try:
        yield
    except DuplicateKeyError as error:
        field = "username"
        if "email_lc" in fields:
            clash = {"email_lc": fields["email_lc"]}
            if exclude_id is not None:
                clash["_id"] = {"$ne": exclude_id}
            if users().find_one(clash, {"_id": 1}) is not None or "username_lc" not in fields:
                field = "email"
        raise Conflict("user", field) from error


def insert_user(document: dict[str, Any]) -> dict[str, Any]:
    """Insert a new user; a taken username or email (any case) is a 409 naming the field.

    The unique indexes decide, so two concurrent registrations of one name give one account.
    """
    with unique_fields(document):
        document["_id"] = users().insert_one(document).inserted_id
    return document


def find_user_by_id(user_id: ObjectId) -> dict[str, Any] | None:
    return users().find_one({"_id": user_id})


def find_user_by_login(login: str) -> dict[str, Any] | None:
    """The user whose username or email is `login`, case-insensitively."""
    field = "email_lc" if "@" in login else "username_lc"
    return users().find_one({field: login.lower()})


def update_user(user: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any] | None:
    """Apply `changes` (already validated) to `user` and return the updated document, or None
    if it is gone."""
    user_id = user["_id"]
    updates = dict(changes)
    if "email" in updates:
        updates["email_lc"] = updates["email"].lower()
    if "name" in updates:
        updates["name_words"] = name_words(updates["name"])
        updates["search_prefixes"] = search_prefixes_for(user["username"], updates["name"])
    updates["updated"] = utcnow()
    with unique_fields(updates, exclude_id=user_id):
        return users().find_one_and_update(
            {"_id": user_id}, {"$set": updates}, return_document=ReturnDocument.AFTER
        )


def delete_user(user_id: ObjectId) -> bool:
    return users().delete_one({"_id": user_id}).deleted_count == 1
