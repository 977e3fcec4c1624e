"""Access and refresh tokens: what they carry, how a login's pair is issued, and who is calling.

Both tokens of one login share a session id (`sid`), so logout and refresh-token reuse detection
can revoke the whole login. Tokens also carry `role` and `username`, so authorising a request and
rendering an owner need no database round trip, and the user's token generation (`gen`), which
ties those claims to the stored user they were read from: once a password or role change or a
deletion moves the generation on, tokens of the older one are refused (blacklist.py).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from bson import ObjectId
from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token, get_jwt

from core.roles import ADMIN


def _seconds(setting: str) -> int:
    return int(current_app.config[setting].total_seconds())


def session_end(session: Mapping[str, Any]) -> int:
    """The Unix second a stored login ends (its `expires`, naive UTC): no token of it outlives
    this."""
    return int(session["expires"].replace(tzinfo=UTC).timestamp())


def longest_token_lifetime() -> int:
    """Seconds the longest-lived token can live: no session outlives JWT_SESSION_MAX_AGE."""
    longest = max(_seconds("JWT_ACCESS_TOKEN_EXPIRES"), _seconds("JWT_REFRESH_TOKEN_EXPIRES"))
    return min(longest, _seconds("JWT_SESSION_MAX_AGE"))


def issue_token_pair(
    user: Mapping[str, Any], session: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A new access + refresh pair for `user` (as stored), in the login response's shape.

    With `session` (a stored login: `_id`, `expires`, `refresh_jti`) neither token outlives the
    login's end, `expires_in` shortened to match, and the refresh token's id is the session's
    `refresh_jti`, the one it accepts next (services/sessions.py). Without one (tests,
    benchmarks) the pair belongs to no stored login: the access token works until it expires,
    the refresh token is refused.
    """
    now = int(time.time())
    access_ends = now + _seconds("JWT_ACCESS_TOKEN_EXPIRES")
    refresh_ends = now + _seconds("JWT_REFRESH_TOKEN_EXPIRES")
    claims = {
        "sid": session["_id"] if session else uuid.uuid4().hex,
        "role": user["role"],
        "username": user["username"],
        "gen": user.get("token_generation", 0),
    }
    refresh_claims = dict(claims)
    if session:
        session_ends = session_end(session)
        access_ends = min(access_ends, session_ends)
        refresh_ends = min(refresh_ends, session_ends)
        refresh_claims["jti"] = session["refresh_jti"]
    identity = str(user["_id"])
    # `exp` in whole seconds set here, not by a lifetime: the session's end caps it exactly.
    return {
        "access_token": create_access_token(
            identity, additional_claims={**claims, "exp": access_ends}
        ),
        "refresh_token": create_refresh_token(
            identity, additional_claims={**refresh_claims, "exp": refresh_ends}
        ),
        "token_type": "Bearer",
        "expires_in": max(0, access_ends - now),
    }


def current_user_id() -> ObjectId:
    """The id of the user whose verified token this request carries."""
    return ObjectId(get_jwt()["sub"])


def current_claims() -> dict[str, Any]:
    """The verified token's claims (`sub`, `role`, `username`, `sid`, `jti`, `exp`, ...)."""
    return get_jwt()


def is_admin() -> bool:
    return get_jwt().get("role") == ADMIN
