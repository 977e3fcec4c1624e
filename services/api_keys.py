"""API keys for machine clients: their format, creation and verification.

A key reads `tk_<key_id>_<secret>`: `tk_` makes it recognisable (secret scanners, logs), the
8-hex-digit `key_id` names it in `apikeys list` / `apikeys revoke`, and the secret is 256 random
bits. Only the SHA-256 of the whole key is stored: a slow password hash buys nothing against a
256-bit secret, while a fast one keeps verification to one indexed MongoDB lookup per request.
Revocation is therefore immediate on every worker (nothing is cached), and a database or Redis
dump reveals no usable key. The guard that reads a key off a request is resources/caller.py.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from core import clock
from stores.api_keys import (
    build_api_key_document,
    find_api_key_by_hash,
    insert_api_key,
    record_use,
)

KEY_PREFIX = "tk"
KEY_SHAPE = re.compile(r"^tk_([0-9a-f]{8})_[A-Za-z0-9_-]{43}$")
REFERENCE_SHAPE = re.compile(r"^(?:tk_)?([0-9a-f]{8})(?:_.*)?$")
# `last_used` is written at most this often per key: one write a minute, not one per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
ID_ATTEMPTS = 5


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh (key_id, key)."""
    key_id = secrets.token_hex(4)
    return key_id, f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


def create_api_key(owner: str) -> tuple[dict[str, Any], str]:
    """Store a new key for `owner` (hashed) and return its document and the key, to show once."""
    for _attempt in range(ID_ATTEMPTS):
        key_id, key = new_key()
        try:
            return insert_api_key(build_api_key_document(key_id, hash_key(key), owner)), key
        except DuplicateKeyError:
            continue  # 32-bit ids collide rarely; draw another
    raise RuntimeError("could not find a free API key id")


def key_id_of(reference: str) -> str | None:
    """The key id in what an operator typed: the id, `tk_<id>`, or a whole key."""
    match = REFERENCE_SHAPE.match(reference.strip())
    return match.group(1) if match else None


def verify_api_key(key: str) -> dict[str, Any] | None:
    """The active key document for `key`, or None (malformed, unknown or revoked)."""
    if not KEY_SHAPE.match(key):
        return None
    found = find_api_key_by_hash(hash_key(key))
    if found is None or found.get("revoked_at") is not None:
        return None
    _note_use(found)
    return found


def _note_use(key: dict[str, Any]) -> None:
    now = clock.utcnow()
    last = key.get("last_used")
    if last is None or now - last >= LAST_USED_RESOLUTION:
        record_use(key, now)
