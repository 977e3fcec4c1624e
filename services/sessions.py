"""Login sessions: opened at login, exchanged at refresh, ended by logout, reuse or a change to
the account.

A login is a session document in MongoDB (stores/sessions.py) with an absolute end,
JWT_SESSION_MAX_AGE after the login: no token of it outlives that end and refreshing never moves
it. Redis (blacklist.py) is the fast check on every request; MongoDB is the record every refresh
consults, so a revoked login can never be refreshed again, even after Redis lost its data (its
access tokens then live at most their own lifetime).

Refresh is rotation. A session accepts one refresh token at a time, its `refresh_jti`; exchanging
it (`refresh_session`)
1. reads the session and the user as stored now, and refuses (401 `token_revoked`) a revoked or
   unknown session, a deleted account, or a token of an older generation;
2. claims the token in Redis (`SET NX`), so of concurrent exchanges exactly one rotates;
3. rotates the session in MongoDB to a new refresh token id and issues the pair from the user
   just read (current role and username);
4. keeps that pair in Redis for JWT_REFRESH_REUSE_GRACE seconds.
A client that lost the response and presents the same token again gets that same pair, without
revoking anything: at once when it is kept, or after waiting up to REFRESH_WAIT_SECONDS while
the first exchange is still running, else 409 `request_in_progress`. A replaced token presented
after the grace, or any older one, is reuse: a copy is in other hands, so the whole login is
revoked, in MongoDB and in Redis until the login's end.

Exact cutoffs. Each user has a token generation (stores/users.py), moved on by a password or
role change or a deletion in the same MongoDB write as the change, then published to Redis
before the change is acknowledged. Every token carries the generation of the user document it
was issued from, and is refused once the stored generation is later (on each request against
Redis, on refresh against MongoDB). So whatever a login or refresh issues reflects the user as
stored, or is dead: a login that read the user before a role downgrade and finishes after it
holds a token of the old generation, refused everywhere; a login that starts after the change's
response reads the new generation and works at once. No clock is compared, so nothing depends
on which second things happened in.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from bson import ObjectId
from flask import current_app
from pymongo.errors import PyMongoError

import blacklist
from core.clock import utcnow
from services.exceptions import RefreshInProgress, SessionRevoked
from services.tokens import issue_token_pair, longest_token_lifetime, session_end
from stores.exceptions import Busy
from stores.sessions import (
    build_session_document,
    find_session,
    insert_session,
    revoke_session,
    revoke_sessions_of_user,
    rotate_session,
)
from stores.users import find_user_by_id

# How long a repeated refresh waits for the pair of the exchange still running, and how often it
# looks; the first exchange takes milliseconds, so waiting longer would only hold a worker.
REFRESH_WAIT_SECONDS = 2.0
REFRESH_POLL_SECONDS = 0.02
# A claim outlives any exchange (uwsgi's harakiri ends a request at 30 s); one whose request died
# before rotating lapses then, and the token can be exchanged again.
CLAIM_SECONDS = 30


def open_session(user: Mapping[str, Any]) -> dict[str, Any]:
    """Start a login for `user` (as read when its password was checked) and issue its first
    pair."""
    created = utcnow().replace(microsecond=0)
    session = insert_session(
        build_session_document(
            uuid.uuid4().hex,
            user["_id"],
            created,
            created + current_app.config["JWT_SESSION_MAX_AGE"],
            uuid.uuid4().hex,
        )
    )
    return issue_token_pair(user, session)


def refresh_session(claims: Mapping[str, Any]) -> dict[str, Any]:
    """Exchange a verified refresh token (its claims) for the login's next pair."""
    session = find_session(claims["sid"])
    if session is None or session["revoked"] is not None:
        raise SessionRevoked
    user = find_user_by_id(ObjectId(claims["sub"]))
    if user is None or not blacklist.generation_allows(token_cutoff(user), claims):
        raise SessionRevoked
    jti = claims["jti"]
    if jti == session["refresh_jti"]:
        if blacklist.claim_refresh_token(jti, CLAIM_SECONDS):
            return _rotate(session, user, jti)
        return _await_pair(jti)
    if jti == session["previous_jti"] and _within_grace(session):
        return _await_pair(jti)
    revoke_login(session["_id"], "refresh_token_reused")
    raise SessionRevoked


def _rotate(session: Mapping[str, Any], user: Mapping[str, Any], jti: str) -> dict[str, Any]:
    try:
        rotated = rotate_session(session["_id"], jti, uuid.uuid4().hex, utcnow())
    except (PyMongoError, Busy):
        blacklist.release_refresh_token(jti)  # nothing rotated: the client's retry may do it
        raise
    if rotated is None:  # revoked since it was read
        raise SessionRevoked
    pair = issue_token_pair(user, rotated)
    blacklist.remember_refreshed_pair(jti, pair, _grace_seconds())
    return pair


def _await_pair(jti: str) -> dict[str, Any]:
    """The pair another request exchanged `jti` for, waiting a moment for it to be kept."""
    deadline = time.monotonic() + REFRESH_WAIT_SECONDS
    while (pair := blacklist.recall_refreshed_pair(jti)) is None:
        if time.monotonic() >= deadline:
            raise RefreshInProgress
        time.sleep(REFRESH_POLL_SECONDS)
    return pair


def _grace_seconds() -> int:
    return int(current_app.config["JWT_REFRESH_REUSE_GRACE"].total_seconds())


def _within_grace(session: Mapping[str, Any]) -> bool:
    rotated = session["rotated"]
    return (
        rotated is not None and utcnow() - rotated < current_app.config["JWT_REFRESH_REUSE_GRACE"]
    )


def revoke_login(session_id: str, why: str) -> None:
    """Revoke one login: in MongoDB (the record refreshes check) and in Redis (every request's
    check) until the login ends, since no token of it lives longer."""
    session = revoke_session(session_id, why, utcnow())
    ends = session_end(session) if session else time.time() + longest_token_lifetime()
    blacklist.revoke_session(session_id, ends)


def token_cutoff(user: Mapping[str, Any]) -> dict[str, Any]:
    """The user's stored token generation, in the shape blacklist.generation_allows reads."""
    return {
        "gen": user.get("token_generation", 0),
        "keep": user.get("kept_session"),
        "keep_from": user.get("kept_from"),
    }


def end_logins_of(user: Mapping[str, Any], why: str) -> None:
    """After a change moved `user`'s token generation on (`user` as written): refuse the older
    tokens on every request from now on, and record which logins ended and why."""
    blacklist.publish_token_generation(
        str(user["_id"]), token_cutoff(user), longest_token_lifetime()
    )
    revoke_sessions_of_user(user["_id"], why, utcnow(), except_session=user.get("kept_session"))
