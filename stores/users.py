"""The `users` collection: account documents and the queries on them.

A user document:
    {_id, username, username_lc, email, email_lc, email_verified, name, name_words, password_hash,
     role, created, updated, token_generation, kept_session, kept_from, deleting,
     reset_token_hash, reset_token_expires, verify_token_hash, verify_token_expires}
`username_lc` / `email_lc` are the lowercase copies that unique indexes keep unique
case-insensitively; `name_words` are the lowercase words of `name`. User search finds a user by
its rows in `user_prefixes` (stores/user_prefixes.py), which every write here that sets a
username or a name keeps in step: rows first, then the document, then the rows it no longer needs.

`email_verified` is false from registration (or an email change) until a mailed link proves
the address; accounts without the field (created before it existed) count as verified, as do
those created by `users create-admin` and `users seed`. `reset_token_hash` / `verify_token_hash`
and their `_expires` are the SHA-256 of the one outstanding password reset and verification link
(stores/recovery_tokens.py); an email change voids both.

`token_generation` counts the changes that end the user's logins (password, role, deletion); it
moves on in the same write as the change, and every token carries the generation it was issued
at, so "issued before the change" is exact (services/sessions.py). `kept_session` and
`kept_from` name the one login a change spared (an own password change) and the generation its
tokens may still carry. `deleting` is set when an account deletion starts: from then on the
account is gone for every look-up here, and a retried deletion finishes the job
(services/accounts.py).

Writes to a user hold its short Redis lock (stores/locks.py): FerretDB 1.x runs
`findAndModify` as a read then a write, and two changes must never both read one generation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import OperationFailure

from core.clock import utcnow
from db import get_db
from stores.duplicate_keys import violated_unique_index
from stores.exceptions import Conflict
from stores.locks import write_lock
from stores.user_prefixes import add_rows_for, name_words, remove_rows_of, resync_rows

# The unique indexes of db.INDEXES["users"], and the field each keeps unique.
UNIQUE_FIELDS = {"username_lc_unique": "username", "email_lc_unique": "email"}
# Accounts whose deletion has started are gone for every look-up (`null` also matches missing).
ACTIVE = {"deleting": None}
# The recovery links a user has outstanding (stores/recovery_tokens.py): (hash, expiry) fields.
RESET_TOKEN_FIELDS = ("reset_token_hash", "reset_token_expires")
VERIFY_TOKEN_FIELDS = ("verify_token_hash", "verify_token_expires")


def users() -> Collection:
    return get_db().users


def build_user_document(
    username: str,
    email: str,
    password_hash: str,
    name: str = "",
    role: str = "user",
    email_verified: bool = True,
) -> dict[str, Any]:
    """A new user document with its normalised fields (also used by bulk seeding). Registration
    passes `email_verified=False`; accounts made by operators start verified."""
    now = utcnow()
    return {
        "username": username,
        "username_lc": username.lower(),
        "email": email,
        "email_lc": email.lower(),
        "email_verified": email_verified,
        "name": name,
        "name_words": name_words(name),
        "password_hash": password_hash,
        "role": role,
        "created": now,
        "updated": now,
        "token_generation": 0,
    }


@contextmanager
def unique_fields(fields: Mapping[str, Any], exclude_id: ObjectId | None = None) -> Iterator[None]:
    """Turn a unique-index violation into a Conflict (409) naming the field that is taken.

    `fields` holds the normalised values being written (`username_lc`, `email_lc`). MongoDB and
    FerretDB report the violation differently (stores/duplicate_keys.py); when the server did not
    name the index (FerretDB's inserts), one look-up finds out which value is taken.
    """
    try:
        yield
    except OperationFailure as error:
        index = violated_unique_index(error, UNIQUE_FIELDS)
        if index is None:
            raise
        field = UNIQUE_FIELDS.get(index) or _taken_field(fields, exclude_id)
        raise Conflict("user", field) from error


def _taken_field(fields: Mapping[str, Any], exclude_id: ObjectId | None) -> str:
    if "email_lc" not in fields:
        return "username"
    if "username_lc" not in fields:
        return "email"
    clash: dict[str, Any] = {"email_lc": fields["email_lc"]}
    if exclude_id is not None:
        clash["_id"] = {"$ne": exclude_id}
    return "email" if users().find_one(clash, {"_id": 1}) is not None else "username"


def insert_user(document: dict[str, Any]) -> dict[str, Any]:
    """Insert a new user; a taken username or email (any case) is a 409 naming the field.

    The unique indexes decide, so two concurrent registrations of one name give one account.
    Its search rows are written first, so a user that exists is always found; a refused one's
    are removed again.
    """
    document.setdefault("_id", ObjectId())
    add_rows_for(document)
    try:
        with unique_fields(document):
            users().insert_one(document)
    except Conflict:
        remove_rows_of(document["_id"])
        raise
    return document


def find_user_by_id(user_id: ObjectId) -> dict[str, Any] | None:
    return users().find_one({"_id": user_id, **ACTIVE})


def user_write_lock(user_id: ObjectId):
    """The short lock every write to one user holds (see the module's docstring)."""
    return write_lock(f"user:{user_id}", "user")


def is_email_verified(user: Mapping[str, Any]) -> bool:
    return user.get("email_verified", True)


def find_user_by_login(login: str) -> dict[str, Any] | None:
    """The user whose username or email is `login`, case-insensitively."""
    field = "email_lc" if "@" in login else "username_lc"
    return users().find_one({field: login.lower(), **ACTIVE})


def is_active_user(user_id: ObjectId) -> bool:
    """Whether the account exists and no deletion of it has started."""
    return users().find_one({"_id": user_id, **ACTIVE}, {"_id": 1}) is not None


def update_user(
    user: Mapping[str, Any],
    changes: Mapping[str, Any],
    *,
    end_sessions: bool = False,
    kept_session: str | None = None,
    kept_from: int | None = None,
) -> dict[str, Any] | None:
    """Apply `changes` (already validated) to `user` and return the updated document.

    A new `password_hash` is written only over the hash `user` was read with, so a login's
    rehash never reverts a password change made meanwhile, and a password checked against an
    old state changes nothing. With `end_sessions` the token generation moves on in the same
    write (sparing `kept_session`'s tokens from generation `kept_from` on), so the change and
    the end of the old tokens are one step: a write refused (409) has ended nothing. A new
    name's search rows are added before the write, and the rows the stored name no longer needs
    removed after it, whatever its outcome (stores/user_prefixes.resync_rows).

    None when the user is gone, is being deleted, or the password changed meanwhile.
    """
    user_id = user["_id"]
    updates = dict(changes)
    if "email" in updates:
        updates["email_lc"] = updates["email"].lower()
        if updates["email_lc"] != user.get("email_lc"):
            # A new address is unproven, and links mailed to the old one must stop working.
            updates["email_verified"] = False
            updates.update(dict.fromkeys(RESET_TOKEN_FIELDS + VERIFY_TOKEN_FIELDS))
    renamed = "name" in updates
    if renamed:
        updates["name_words"] = name_words(updates["name"])
        add_rows_for({**user, "name_words": updates["name_words"]})
    updates["updated"] = utcnow()
    query: dict[str, Any] = {"_id": user_id, **ACTIVE}
    if "password_hash" in updates:
        query["password_hash"] = user["password_hash"]
    operations = (
        ending_logins(updates, kept_session, kept_from) if end_sessions else {"$set": updates}
    )
    try:
        with user_write_lock(user_id), unique_fields(updates, exclude_id=user_id):
            return users().find_one_and_update(
                query, operations, return_document=ReturnDocument.AFTER
            )
    finally:
        if renamed:
            resync_rows(user_id)


def ending_logins(
    updates: Mapping[str, Any], kept_session: str | None = None, kept_from: int | None = None
) -> dict[str, Any]:
    """The update operations of a write that also ends the user's logins: `updates` set, the
    token generation moved on, sparing only `kept_session`'s tokens from generation `kept_from`
    on (services/sessions.py). One write, so the change and the end of the old tokens are one
    step."""
    return {
        "$set": {**updates, "kept_session": kept_session, "kept_from": kept_from},
        "$inc": {"token_generation": 1},
    }


def mark_user_deleting(user_id: ObjectId) -> dict[str, Any] | None:
    """Start deleting an account (or restart an interrupted deletion): from this write on it is
    gone for every look-up and its token generation has moved on. None when there is no such
    account left."""
    with user_write_lock(user_id):
        return users().find_one_and_update(
            {"_id": user_id},
            ending_logins({"deleting": utcnow()}),
            return_document=ReturnDocument.AFTER,
        )


def ids_of_users_being_deleted() -> list[ObjectId]:
    """Accounts whose deletion started and has not finished (interrupted, or still running)."""
    return [user["_id"] for user in users().find({"deleting": {"$ne": None}}, {"_id": 1})]


def delete_user(user_id: ObjectId) -> bool:
    """Remove the document, its search rows first (a crash between leaves the account being
    deleted, which a retried deletion finishes)."""
    remove_rows_of(user_id)
    return users().delete_one({"_id": user_id}).deleted_count == 1
