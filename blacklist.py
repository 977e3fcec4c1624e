"""Token revocation kept in Redis: the fast check on every authenticated request, shared by every
uwsgi worker and dyno.

Two kinds of entries decide whether a token is revoked, each expiring when nothing it blocks
could still be valid, so the set never grows without bound:

- `revoked:sid:<session id>`: every token of one login (logout, refresh-token reuse), until the
  login's absolute end (no token of it lives longer);
- `revoked:user:<user id>`: the user's token generation, `{"gen", "keep", "keep_from"}`. Each
  change that ends the user's logins (password, role, deletion) moves the generation on in the
  same MongoDB write as the change, then publishes it here. A token is valid only while it
  carries the current generation or a later one, or belongs to session `keep` (the login that
  changed its own password) and carries `keep_from` or later. Generations are whole numbers
  compared exactly, so "issued before the change" has no same-second ambiguity.

Two more serve refresh-token rotation (services/sessions.py): `refreshing:<jti>` is the claim of
the one request exchanging a refresh token, and `refreshed:<jti>` keeps the pair it was
exchanged for during JWT_REFRESH_REUSE_GRACE, so a client retrying gets that same pair.

Redis is the fast path, not the record: sessions and generations live in MongoDB and every
refresh checks them there, so a Redis that lost its data un-revokes access tokens for at most
their own lifetime and revives no login. Checking a token is one Redis round trip (MGET of its
two keys). When Redis is unreachable the redis error propagates and the request answers 503: a
revoked token is never accepted because Redis was down.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from typing import Any

import redis
from flask import Flask

from errors import error_response
from extensions import get_redis, jwt

PREFIX = "revoked"
CLAIM_PREFIX = "refreshing"
REFRESHED_PREFIX = "refreshed"


def _ttl(expires_at: float) -> int:
    """Seconds until `expires_at` (a Unix time), at least 1 so the key is always written."""
    return max(1, math.ceil(expires_at - time.time()))


def claim_refresh_token(jti: str, seconds: int) -> bool:
    """Claim a refresh token for one exchange, atomically; False if another request holds it.

    The claim only has to outlive the exchange: once the session is rotated, MongoDB records
    that this token was replaced.
    """
    return bool(get_redis().set(f"{CLAIM_PREFIX}:{jti}", 1, ex=seconds, nx=True))


def release_refresh_token(jti: str) -> None:
    """Drop a claim when the exchange failed before anything was rotated, so the client's retry
    is a first attempt again, not a wait for a pair that will never come."""
    get_redis().delete(f"{CLAIM_PREFIX}:{jti}")


def remember_refreshed_pair(jti: str, pair: Mapping[str, Any], seconds: int) -> None:
    """Keep the pair refresh token `jti` was exchanged for, for `seconds` (the reuse grace)."""
    if seconds > 0:
        get_redis().set(f"{REFRESHED_PREFIX}:{jti}", json.dumps(pair), ex=seconds)


def recall_refreshed_pair(jti: str) -> dict[str, Any] | None:
    """The pair refresh token `jti` was exchanged for, while the reuse grace lasts."""
    stored = get_redis().get(f"{REFRESHED_PREFIX}:{jti}")
    return json.loads(stored) if stored else None


def revoke_session(session_id: str, expires_at: float) -> None:
    """Block every token of one login; `expires_at` is when the login ends (Unix time)."""
    get_redis().set(f"{PREFIX}:sid:{session_id}", 1, ex=_ttl(expires_at))


def publish_token_generation(
    user_id: str, cutoff: Mapping[str, Any], lifetime_seconds: int
) -> None:
    """Make `cutoff` (`{"gen", "keep", "keep_from"}`) the user's current one here, unless one of
    a later generation already is.

    Two changes may publish out of order; the compare-and-set keeps the highest. It lives for
    `lifetime_seconds`, the longest any token lives: after that no older token is left.
    """
    key = f"{PREFIX}:user:{user_id}"
    with get_redis().pipeline() as pipe:
        while True:
            try:
                pipe.watch(key)
                current = pipe.get(key)
                if current is not None and json.loads(current)["gen"] >= cutoff["gen"]:
                    return
                pipe.multi()
                pipe.set(key, json.dumps(dict(cutoff)), ex=max(1, lifetime_seconds))
                pipe.execute()
                return
            except redis.WatchError:
                continue  # another change published meanwhile: compare again


def generation_allows(cutoff: Mapping[str, Any], claims: Mapping[str, Any]) -> bool:
    """Whether a token's generation survives the user's cutoff `{"gen", "keep", "keep_from"}`
    (as published here, or as stored on the user in MongoDB)."""
    generation = claims.get("gen", 0)
    if generation >= cutoff["gen"]:
        return True
    return (
        bool(cutoff.get("keep"))
        and cutoff["keep"] == claims.get("sid")
        and (generation >= (cutoff.get("keep_from") or 0))
    )


def is_revoked(claims: Mapping[str, Any]) -> bool:
    """True when the token's login session, or every token of its user up to its generation,
    has been revoked. (A spent refresh token presented again is the refresh's business: within
    the grace it answers the same pair, after it revokes the login.)"""
    keys = [f"{PREFIX}:sid:{claims.get('sid')}", f"{PREFIX}:user:{claims.get('sub')}"]
    session_revoked, user_cutoff = get_redis().mget(keys)
    if session_revoked:
        return True
    return user_cutoff is not None and not generation_allows(json.loads(user_cutoff), claims)


def init_app(app: Flask) -> None:
    """Flask-JWT-Extended's callbacks, all here: it consults the blocklist on every protected
    request, and every token it refuses answers a 401 in the contract's shape (never its default
    422)."""

    @jwt.unauthorized_loader
    def _missing(reason: str):
        return error_response(401, "unauthorized", "Missing or malformed Authorization header.")

    @jwt.invalid_token_loader
    def _invalid(reason: str):
        return error_response(401, "invalid_token", "The token is invalid.")

    @jwt.expired_token_loader
    def _expired(_header: dict, _payload: dict):
        return error_response(401, "token_expired", "The token has expired.")

    @jwt.revoked_token_loader
    def _revoked(_header: dict, _payload: dict):
        return error_response(401, "token_revoked", "The token has been revoked.")

    @jwt.token_verification_failed_loader
    def _claims_rejected(_header: dict, _payload: dict):
        return error_response(401, "invalid_token", "The token is invalid.")

    @jwt.token_in_blocklist_loader
    def _check_blocklist(_jwt_header: dict, jwt_payload: dict) -> bool:
        return is_revoked(jwt_payload)
