"""API keys for machine clients, and the guard that lets a request in with a JWT or a key.

A key reads `tk_<key_id>_<secret>`: `tk_` makes it recognisable (secret scanners, logs), the
8-hex-digit `key_id` names it in `apikeys list` / `apikeys revoke`, and the secret is 256 random
bits. Only the SHA-256 of the whole key is stored: a slow password hash buys nothing against a
256-bit secret, while a fast one keeps verification to one indexed MongoDB lookup per request.
Revocation is therefore immediate on every worker (nothing is cached), and a database or Redis
dump reveals no usable key.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from flask import g, request
from flask_jwt_extended import get_jwt, verify_jwt_in_request
from pymongo.errors import DuplicateKeyError

from core import clock
from errors import ApiError
from stores.api_keys import (
    build_api_key_document,
    find_api_key_by_hash,
    insert_api_key,
    record_use,
)

KEY_PREFIX = "tk"
HEADER = "X-API-KEY"
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
    """The active key document for `key`, or None (malformed, unknown or revoked).

    Memoised per request: the rate limiter identifies the caller by the same lookup the view's
    guard then reuses.
    """
    memo = g.get("_api_key_lookup")
    if memo is not None and memo[0] == key:
        return memo[1]
    document = None
    if KEY_SHAPE.match(key):
        found = find_api_key_by_hash(hash_key(key))
        if found is not None and found.get("revoked_at") is None:
            document = found
            _note_use(found)
    g._api_key_lookup = (key, document)
    return document


def _note_use(key: dict[str, Any]) -> None:
    now = clock.utcnow()
    last = key.get("last_used")
    if last is None or now - last >= LAST_USED_RESOLUTION:
        record_use(key, now)


def api_key_identity() -> str | None:
    """The rate-limit identity of a request's valid API key (`apikey:<id>`), else None."""
    key = request.headers.get(HEADER)
    document = verify_api_key(key) if key else None
    return f"apikey:{document['key_id']}" if document else None


def _caller_from_jwt() -> dict[str, str]:
    verify_jwt_in_request()  # its failures are the usual 401s (errors.py)
    claims = get_jwt()
    return {"type": "user", "id": claims["sub"], "username": claims["username"]}


def _caller_from_api_key(key: str) -> dict[str, str]:
    document = verify_api_key(key)
    if document is None:
        raise ApiError(401, "invalid_credentials", "The API key is invalid or has been revoked.")
    return {"type": "api_key", "id": document["key_id"], "owner": document["owner"]}


def jwt_or_api_key_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Let a request in with an access token (`Authorization: Bearer`) or an `X-API-KEY`.

    A request sending an Authorization header is judged by it (a bad token is a 401 even with a
    key alongside); otherwise by its key. `current_caller()` then says who is calling.
    """

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if request.headers.get("Authorization"):
            g.caller = _caller_from_jwt()
        elif key:
            g.caller = _caller_from_api_key(key)
        else:
            raise ApiError(
                401,
                "unauthorized",
                "Send an access token (Authorization: Bearer ...) or an X-API-KEY header.",
            )
        return view(*args, **kwargs)

    return guarded


def current_caller() -> dict[str, str]:
    """Who is calling, as templates record it in `created_by`."""
    return g.caller
