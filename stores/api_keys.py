"""The `api_keys` collection: the keys machine clients use on the templates API, stored hashed.

An API key document:
    {_id, key_id, key_hash, owner, created, last_used, revoked_at}
`key_hash` is the SHA-256 of the whole key; the key itself is never stored. `key_id` is the
public part of the key (`tk_<key_id>_<secret>`), used to list and revoke keys. `last_used` and
`revoked_at` are None until the key is used or revoked.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.collection import Collection

from core import clock
from db import get_db

# What a request needs to know about a key; the hash is not read back.
AUTH_FIELDS = {"key_id": 1, "owner": 1, "last_used": 1, "revoked_at": 1}


def api_keys() -> Collection:
    return get_db().api_keys


def build_api_key_document(key_id: str, key_hash: str, owner: str) -> dict[str, Any]:
    return {
        "key_id": key_id,
        "key_hash": key_hash,
        "owner": owner,
        "created": clock.utcnow(),
        "last_used": None,
        "revoked_at": None,
    }


def insert_api_key(document: dict[str, Any]) -> dict[str, Any]:
    """Insert a new key; a DuplicateKeyError means its random id is taken (draw another)."""
    document["_id"] = api_keys().insert_one(document).inserted_id
    return document


def find_api_key_by_hash(key_hash: str) -> dict[str, Any] | None:
    """The key whose hash this is (revoked or not): one indexed lookup."""
    return api_keys().find_one({"key_hash": key_hash}, AUTH_FIELDS)


def list_api_keys() -> Iterator[dict[str, Any]]:
    """Every key, oldest first, without hashes."""
    return api_keys().find({}, {"key_hash": 0}).sort([("created", ASCENDING), ("_id", ASCENDING)])


def revoke_api_key(key_id: str) -> dict[str, Any] | None:
    """Mark the key revoked (keeping the first revocation time); None when there is no such key.

    Requests look the key up on every use, so it fails on every worker from the next request.
    """
    api_keys().update_one(
        {"key_id": key_id, "revoked_at": None}, {"$set": {"revoked_at": clock.utcnow()}}
    )
    return api_keys().find_one({"key_id": key_id}, {"key_hash": 0})


def record_use(key: dict[str, Any], now: datetime) -> None:
    """Set `last_used`, unless another request already moved it since `key` was read."""
    api_keys().update_one(
        {"_id": key["_id"], "last_used": key.get("last_used")}, {"$set": {"last_used": now}}
    )
