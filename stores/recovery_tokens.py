"""Password reset and email verification tokens, kept on the user document they unlock.

Only a token's SHA-256 is stored, with its expiry: a database dump holds no usable link, and a
token of 32 random bytes needs no slow hash. A user has at most one token of each kind, so a new
one replaces the old. Redeeming a token is one conditional write to the user (under its write
lock, like every write to a user: stores/users.py), which applies the change and clears the
token together, so a token works once even when two requests present it at the same moment; a
used, expired and unknown token all find nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument

from stores.users import (
    ACTIVE,
    RESET_TOKEN_FIELDS,
    VERIFY_TOKEN_FIELDS,
    ending_logins,
    user_write_lock,
    users,
)

RESET = "reset"
VERIFY = "verify"
FIELDS = {RESET: RESET_TOKEN_FIELDS, VERIFY: VERIFY_TOKEN_FIELDS}


def save_token(kind: str, user: Mapping[str, Any], digest: str, expires: datetime) -> bool:
    """Give `user` (as read) a token of `kind` (RESET or VERIFY), replacing any earlier one.

    False when the account is gone or its address changed since it was read: the link would go
    to an address that no longer names the account."""
    hash_field, expires_field = FIELDS[kind]
    query = {"_id": user["_id"], "email_lc": user["email_lc"], **ACTIVE}
    with user_write_lock(user["_id"]):
        result = users().update_one(query, {"$set": {hash_field: digest, expires_field: expires}})
    return result.matched_count == 1


def redeem_token(
    kind: str,
    digest: str,
    now: datetime,
    changes: Mapping[str, Any],
    *,
    end_sessions: bool = False,
) -> dict[str, Any] | None:
    """Spend the unexpired token of `kind` whose hash is `digest`: apply `changes` to its user,
    clear the token, and return the user as written; None when there is no such token.

    With `end_sessions` the same write ends every login of the user (`ending_logins`;
    services/sessions.end_logins_of then records and publishes it)."""
    hash_field, expires_field = FIELDS[kind]
    holder = users().find_one({hash_field: digest, **ACTIVE}, {"_id": 1})
    if holder is None:
        return None
    query = {"_id": holder["_id"], hash_field: digest, expires_field: {"$gt": now}, **ACTIVE}
    updates = {**changes, hash_field: None, expires_field: None, "updated": now}
    operations = ending_logins(updates) if end_sessions else {"$set": updates}
    with user_write_lock(holder["_id"]):
        return users().find_one_and_update(query, operations, return_document=ReturnDocument.AFTER)
