"""Access and refresh tokens: what they carry, how a login's pair is issued, and who is calling.

Both tokens of one login share a session id (`sid`), so logout and refresh-token reuse detection
can revoke the whole login. Tokens also carry `role` and `username`, so authorising a request and
rendering an owner need no database round trip.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from bson import ObjectId
from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token, get_jwt

from core.roles import ADMIN


def issue_token_pair(user: Mapping[str, Any], session_id: str | None = None) -> dict[str, Any]:
    """A new access + refresh pair for `user`, in the login response's shape.

    Pass the `session_id` of the login being refreshed to keep it; a new login gets a new one.
    """
    claims = {
        "sid": session_id or uuid.uuid4().hex,
        "role": user["role"],
        "username": user["username"],
    }
    identity = str(user["_id"])
    access_lifetime = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    return {
        "access_token": create_access_token(identity, additional_claims=claims),
        "refresh_token": create_refresh_token(identity, additional_claims=claims),
        "token_type": "Bearer",
        "expires_in": int(access_lifetime.total_seconds()),
    }


def current_user_id() -> ObjectId:
    """The id of the user whose verified token this request carries."""
    return ObjectId(get_jwt()["sub"])


def current_claims() -> dict[str, Any]:
    """The verified token's claims (`sub`, `role`, `username`, `sid`, `jti`, `exp`, ...)."""
    return get_jwt()


def is_admin() -> bool:
    return get_jwt().get("role") == ADMIN
