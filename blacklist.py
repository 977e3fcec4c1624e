"""Token revocation kept in Redis, so it holds across uwsgi workers, dynos and restarts.

Three kinds of entries, each expiring when nothing it blocks could still be valid, so the set never
grows without bound:

- `revoked:jti:<jti>`: one spent refresh token (rotation): presenting it again is taken as theft
  and revokes its whole login;
- `revoked:sid:<session id>`: every token of one login (logout, refresh-token reuse);
- `revoked:user:<user id>`: a time (and optionally a session to spare); the user's tokens issued
  up to that second are dead (account deleted; password changed, sparing the session that did it).

Checking a token is one Redis round trip (MGET of its three keys). When Redis is unreachable the
redis error propagates and the request answers 503: a revoked token is never accepted because
Redis was down.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from typing import Any

from flask import Flask

from extensions import get_redis, jwt

PREFIX = "revoked"
SPENT = b"spent"


def _ttl(expires_at: float) -> int:
    """Seconds until `expires_at` (a Unix time), at least 1 so the key is always written."""
    return max(1, math.ceil(expires_at - time.time()))


def spend_refresh_token(jti: str, expires_at: float) -> bool:
    """Mark a refresh token used, atomically; False if it already was (a concurrent reuse)."""
    return bool(get_redis().set(f"{PREFIX}:jti:{jti}", SPENT, ex=_ttl(expires_at), nx=True))


def revoke_session(session_id: str, expires_at: float) -> None:
    """Block every token of one login; `expires_at` is when its refresh token expires."""
    get_redis().set(f"{PREFIX}:sid:{session_id}", 1, ex=_ttl(expires_at))


def revoke_user_tokens(
    user_id: str, lifetime_seconds: int, keep_session: str | None = None
) -> None:
    """Block every token issued to the user so far, except those of `keep_session` if given.

    `lifetime_seconds` is the longest token lifetime: after it, every older token has expired.
    """
    cutoff = {"until": math.floor(time.time()), "keep": keep_session}
    get_redis().set(f"{PREFIX}:user:{user_id}", json.dumps(cutoff), ex=max(1, lifetime_seconds))


def is_revoked(claims: Mapping[str, Any]) -> bool:
    """True when the token, its login session or every token of its user has been revoked.

    A spent refresh token presented again revokes its whole login: either the client or a thief
    holds a copy, and the login can no longer be trusted.
    """
    keys = [
        f"{PREFIX}:jti:{claims.get('jti')}",
        f"{PREFIX}:sid:{claims.get('sid')}",
        f"{PREFIX}:user:{claims.get('sub')}",
    ]
    token_spent, session_revoked, user_cutoff = get_redis().mget(keys)
    if session_revoked:
        return True
    if token_spent:
        revoke_session(str(claims.get("sid")), float(claims.get("exp", 0)))
        return True
    if user_cutoff is None:
        return False
    cutoff = json.loads(user_cutoff)
    if cutoff["keep"] and cutoff["keep"] == claims.get("sid"):
        return False
    # `iat` is in whole seconds: a token issued in the cutoff's second is dead too, since it may
    # predate the cutoff (the safe side of the tie).
    return claims.get("iat", 0) <= cutoff["until"]


def init_app(app: Flask) -> None:
    """Make Flask-JWT-Extended consult the blocklist on every protected request."""

    @jwt.token_in_blocklist_loader
    def _check_blocklist(_jwt_header: dict, jwt_payload: dict) -> bool:
        return is_revoked(jwt_payload)
