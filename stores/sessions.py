"""The `sessions` collection: one document per login, the durable record of which logins may
still be refreshed.

A session document:
    {_id, user_id, created, expires, refresh_jti, previous_jti, rotated, revoked, revoked_why}
`_id` is the session id every token of the login carries (`sid`); `expires` is the login's
absolute end (JWT_SESSION_MAX_AGE after `created`), which no token of it outlives.
`refresh_jti` is the id of the one refresh token that may be exchanged now; `previous_jti` and
`rotated` remember the one it replaced, and when, for the refresh grace. `revoked` (a time) and
`revoked_why` (`logout`, `refresh_token_reused`, `password_changed`, `role_changed`) are None
while the login is live. Expired sessions are removed by `flask db cleanup` (also run by
`db init`): FerretDB 1.24 has no TTL indexes.

Single-session writes hold the session's short Redis lock: FerretDB 1.x runs `findAndModify` as
a read then a write of the whole document, which would let a rotation write back a session that
a concurrent logout had just revoked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.collection import Collection

from db import get_db
from stores.locks import write_lock

LIVE = {"revoked": None}


def sessions() -> Collection:
    return get_db().sessions


def build_session_document(
    session_id: str, user_id: ObjectId, created: datetime, expires: datetime, refresh_jti: str
) -> dict[str, Any]:
    return {
        "_id": session_id,
        "user_id": user_id,
        "created": created,
        "expires": expires,
        "refresh_jti": refresh_jti,
        "previous_jti": None,
        "rotated": None,
        "revoked": None,
        "revoked_why": None,
    }


def insert_session(document: dict[str, Any]) -> dict[str, Any]:
    sessions().insert_one(document)
    return document


def find_session(session_id: str) -> dict[str, Any] | None:
    return sessions().find_one({"_id": session_id})


def rotate_session(
    session_id: str, presented_jti: str, new_jti: str, now: datetime
) -> dict[str, Any] | None:
    """Make `new_jti` the session's refresh token in place of `presented_jti`; None when the
    session was revoked or rotated by someone else meanwhile."""
    with write_lock(f"session:{session_id}", "session"):
        return sessions().find_one_and_update(
            {"_id": session_id, "refresh_jti": presented_jti, **LIVE},
            {"$set": {"refresh_jti": new_jti, "previous_jti": presented_jti, "rotated": now}},
            return_document=ReturnDocument.AFTER,
        )


def revoke_session(session_id: str, why: str, now: datetime) -> dict[str, Any] | None:
    """Revoke one login (keeping the first revocation's time and reason); the session, or None
    when there is no such session."""
    with write_lock(f"session:{session_id}", "session"):
        sessions().update_one(
            {"_id": session_id, **LIVE}, {"$set": {"revoked": now, "revoked_why": why}}
        )
    return find_session(session_id)


def revoke_sessions_of_user(
    user_id: ObjectId, why: str, now: datetime, except_session: str | None = None
) -> int:
    """Revoke every live login of a user, but `except_session`; how many were revoked.

    The user's token generation already ends those logins exactly (services/sessions.py); this
    writes down which ended and why.
    """
    query: dict[str, Any] = {"user_id": user_id, **LIVE}
    if except_session is not None:
        query["_id"] = {"$ne": except_session}
    return (
        sessions().update_many(query, {"$set": {"revoked": now, "revoked_why": why}}).modified_count
    )


def delete_sessions_of_user(user_id: ObjectId) -> int:
    return sessions().delete_many({"user_id": user_id}).deleted_count


def delete_expired_sessions(now: datetime) -> int:
    """Remove the sessions that ended before `now`: none of their tokens can still be valid."""
    return sessions().delete_many({"expires": {"$lte": now}}).deleted_count
