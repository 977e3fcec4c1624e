"""Login sessions: absolute lifetime, rotation with a reuse grace, exact cutoffs by token
generation, and refresh reading the user as stored (on the in-process stand-ins)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from flask_jwt_extended import decode_token

import blacklist
import services.sessions
from config import ConfigError, load_config
from db import get_db
from extensions import get_redis
from tests.support import LOGIN, LOGOUT, ME, REFRESH, bearer

PASSWORD = "correct horse 1"


def login(client, user, password: str = PASSWORD) -> dict:
    response = client.post(LOGIN, json={"username": user["username"], "password": password})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def refresh(client, pair: dict):
    return client.post(REFRESH, headers=bearer(pair["refresh_token"]))


def claims_of(app, token: str) -> dict:
    with app.app_context():
        return decode_token(token)


def stored_session(app, sid: str) -> dict:
    with app.app_context():
        return get_db().sessions.find_one({"_id": sid})


def user_url(user) -> str:
    return f"/api/v1/users/{user['_id']}"


# --- settings --------------------------------------------------------------------------------


def test_session_settings_default_to_30_days_and_10_seconds():
    config = load_config({"APP_ENV": "testing"})
    assert config["JWT_SESSION_MAX_AGE"] == timedelta(days=30)
    assert config["JWT_REFRESH_REUSE_GRACE"] == timedelta(seconds=10)
    assert load_config({"APP_ENV": "testing", "JWT_REFRESH_REUSE_GRACE": "0"})[
        "JWT_REFRESH_REUSE_GRACE"
    ] == timedelta(0)


@pytest.mark.parametrize(
    "setting", [{"JWT_SESSION_MAX_AGE": "0"}, {"JWT_REFRESH_REUSE_GRACE": "-1"}]
)
def test_session_settings_are_validated(setting):
    with pytest.raises(ConfigError, match=next(iter(setting))):
        load_config({"APP_ENV": "testing", **setting})


# --- the session record and its absolute lifetime ---------------------------------------------


def test_login_opens_a_stored_session(client, app, user):
    pair = login(client, user)
    claims = claims_of(app, pair["refresh_token"])
    session = stored_session(app, claims["sid"])
    assert session["user_id"] == user["_id"]
    assert session["expires"] - session["created"] == timedelta(days=30)
    assert session["refresh_jti"] == claims["jti"]
    assert session["revoked"] is None and session["revoked_why"] is None


class TestSessionMaxAge:
    @pytest.fixture
    def app_config(self, app_config):
        return {
            **app_config,
            "JWT_SESSION_MAX_AGE": 120,
            "JWT_REFRESH_TOKEN_EXPIRES": 3600,
            "JWT_ACCESS_TOKEN_EXPIRES": 900,
        }

    def test_the_refresh_tokens_expiry_is_the_session_end_and_rotation_keeps_it(
        self, client, app, user
    ):
        first = login(client, user)
        claims = claims_of(app, first["refresh_token"])
        session_end = stored_session(app, claims["sid"])["expires"].timestamp()
        assert claims["exp"] == int(session_end) <= claims["iat"] + 120
        second = refresh(client, first).get_json()
        assert claims_of(app, second["refresh_token"])["exp"] == claims["exp"]

    def test_no_access_token_outlives_the_session(self, client, app, user):
        pair = login(client, user)
        access = claims_of(app, pair["access_token"])
        refresh_claims = claims_of(app, pair["refresh_token"])
        assert access["exp"] == refresh_claims["exp"]
        assert pair["expires_in"] == access["exp"] - access["iat"] <= 120

    def test_expires_in_is_the_access_lifetime_when_the_session_lasts_longer(
        self, client, app, user, monkeypatch
    ):
        monkeypatch.setitem(app.config, "JWT_ACCESS_TOKEN_EXPIRES", timedelta(seconds=60))
        pair = login(client, user)
        access = claims_of(app, pair["access_token"])
        assert pair["expires_in"] == 60 == access["exp"] - access["iat"]


# --- reuse, and the grace for retries ---------------------------------------------------------


class TestReuseAfterTheGrace:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "JWT_REFRESH_TOKEN_EXPIRES": 20, "JWT_REFRESH_REUSE_GRACE": 0}

    def test_reuse_revokes_the_session_until_it_ends_not_until_the_reused_token_expires(
        self, client, app, user
    ):
        first = login(client, user)
        sid = claims_of(app, first["refresh_token"])["sid"]
        second = refresh(client, first).get_json()
        reuse = refresh(client, first)
        assert reuse.status_code == 401
        assert reuse.get_json()["error"]["code"] == "token_revoked"
        session = stored_session(app, sid)
        assert session["revoked_why"] == "refresh_token_reused"
        with app.app_context():
            redis = get_redis()
            assert redis.ttl(f"revoked:sid:{sid}") > 20  # the session's 30 days, not 20 s
            # Even once Redis forgets (its entry expired, or it lost its data), the successor
            # of the reused token is refused.
            redis.flushall()
        assert refresh(client, second).status_code == 401


def test_retried_refresh_within_the_grace_answers_the_same_pair_and_revokes_nothing(client, user):
    first = login(client, user)
    original = refresh(client, first)
    retried = refresh(client, first)
    assert original.status_code == retried.status_code == 200
    assert retried.get_json() == original.get_json()
    pair = original.get_json()
    assert client.get(ME, headers=bearer(pair["access_token"])).status_code == 200
    assert refresh(client, pair).status_code == 200


def test_retry_within_the_grace_of_a_session_revoked_meanwhile_is_401(client, user):
    first = login(client, user)
    second = refresh(client, first).get_json()
    assert client.post(LOGOUT, headers=bearer(second["access_token"])).status_code == 204
    retried = refresh(client, first)
    assert retried.status_code == 401
    assert retried.get_json()["error"]["code"] == "token_revoked"


def test_an_older_token_than_the_last_replaced_one_is_reuse_even_within_the_grace(client, user):
    first = login(client, user)
    second = refresh(client, first).get_json()
    third = refresh(client, second).get_json()
    assert refresh(client, first).status_code == 401
    assert client.get(ME, headers=bearer(third["access_token"])).status_code == 401


def claim_as_if_another_request_were_exchanging(app, pair: dict) -> str:
    jti = claims_of(app, pair["refresh_token"])["jti"]
    with app.app_context():
        assert blacklist.claim_refresh_token(jti, 30)
    return jti


def test_a_duplicate_while_the_first_refresh_runs_waits_for_its_pair(client, app, user):
    first = login(client, user)
    jti = claim_as_if_another_request_were_exchanging(app, first)
    answered = {"access_token": "a", "refresh_token": "r", "token_type": "Bearer", "expires_in": 1}

    def first_request_finishes():
        time.sleep(0.2)
        with app.app_context():
            blacklist.remember_refreshed_pair(jti, answered, 10)

    finisher = threading.Thread(target=first_request_finishes)
    finisher.start()
    duplicate = refresh(client, first)
    finisher.join()
    assert duplicate.status_code == 200
    assert duplicate.get_json() == answered


def test_a_duplicate_gets_409_request_in_progress_when_the_first_does_not_finish(
    client, app, user, monkeypatch
):
    monkeypatch.setattr(services.sessions, "REFRESH_WAIT_SECONDS", 0.1)
    first = login(client, user)
    claim_as_if_another_request_were_exchanging(app, first)
    duplicate = refresh(client, first)
    assert duplicate.status_code == 409
    assert duplicate.get_json()["error"]["code"] == "request_in_progress"
    assert int(duplicate.headers["Retry-After"]) >= 1
    # Nothing was revoked: the login goes on.
    assert client.get(ME, headers=bearer(first["access_token"])).status_code == 200


# --- MongoDB is the record --------------------------------------------------------------------


def test_logout_is_recorded_in_the_session_and_survives_a_redis_loss(client, app, user):
    pair = login(client, user)
    sid = claims_of(app, pair["refresh_token"])["sid"]
    assert client.post(LOGOUT, headers=bearer(pair["access_token"])).status_code == 204
    assert stored_session(app, sid)["revoked_why"] == "logout"
    with app.app_context():
        get_redis().flushall()
    assert refresh(client, pair).status_code == 401


def test_a_refresh_token_without_a_stored_session_is_refused(client, app, user):
    from services.tokens import issue_token_pair

    with app.app_context():
        pair = issue_token_pair(user)
    response = refresh(client, pair)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "token_revoked"


# --- refresh reads the user as stored ---------------------------------------------------------


def test_refresh_carries_the_current_role_and_username(client, app, user):
    pair = login(client, user)
    with app.app_context():
        get_db().users.update_one(
            {"_id": user["_id"]}, {"$set": {"role": "admin", "username": "renamed"}}
        )
    claims = claims_of(app, refresh(client, pair).get_json()["access_token"])
    assert claims["role"] == "admin" and claims["username"] == "renamed"


def test_refresh_of_a_deleted_user_is_401_token_revoked(client, app, user):
    pair = login(client, user)
    with app.app_context():
        get_db().users.delete_one({"_id": user["_id"]})
    response = refresh(client, pair)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "token_revoked"


# --- exact cutoffs ----------------------------------------------------------------------------


def test_a_login_right_after_a_password_change_works_at_once(client, user):
    pair = login(client, user)
    changed = client.patch(
        user_url(user),
        json={"password": "brand-new-pw", "current_password": PASSWORD},
        headers=bearer(pair["access_token"]),
    )
    assert changed.status_code == 200
    fresh = login(client, user, "brand-new-pw")
    assert client.get(ME, headers=bearer(fresh["access_token"])).status_code == 200
    assert refresh(client, fresh).status_code == 200


def test_a_login_right_after_a_role_change_works_at_once(client, admin, user, auth_headers):
    promoted = client.patch(user_url(user), json={"role": "admin"}, headers=auth_headers(admin))
    assert promoted.status_code == 200
    fresh = login(client, user)
    me = client.get(ME, headers=bearer(fresh["access_token"]))
    assert me.status_code == 200 and me.get_json()["role"] == "admin"


def test_a_login_that_read_the_user_before_a_role_downgrade_gets_no_admin_token(
    client, app, make_user, auth_headers, monkeypatch
):
    """The login reads the admin, the downgrade is acknowledged, the login finishes in a later
    second: what it issued must not act as an admin."""
    import resources.auth

    demoted, password = make_user("demoted", role="admin")
    other_admin = make_user("boss", role="admin")[0]
    check_password = resources.auth.verify_password

    def downgrade_while_logging_in(stored_hash, attempt):
        downgrade = app.test_client().patch(
            user_url(demoted), json={"role": "user"}, headers=auth_headers(other_admin)
        )
        assert downgrade.status_code == 200
        started = int(time.time())
        while int(time.time()) == started:  # finish in the next second, as reproduced
            time.sleep(0.01)
        return check_password(stored_hash, attempt)

    monkeypatch.setattr(resources.auth, "verify_password", downgrade_while_logging_in)
    pair = login(client, demoted, password)
    monkeypatch.undo()
    headers = bearer(pair["access_token"])
    assert client.get(ME, headers=headers).status_code == 401
    assert (
        client.patch(user_url(demoted), json={"role": "admin"}, headers=headers).status_code == 401
    )
    assert refresh(client, pair).status_code == 401


class TestRetryAfterUnderRateLimits:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "RATELIMIT_ENABLED": True}

    def test_request_in_progress_keeps_its_own_retry_after(self, client, app, user, monkeypatch):
        """Not the limiter's window reset: a client waiting that long would miss the grace."""
        monkeypatch.setattr(services.sessions, "REFRESH_WAIT_SECONDS", 0.1)
        first = login(client, user)
        claim_as_if_another_request_were_exchanging(app, first)
        duplicate = refresh(client, first)
        assert duplicate.status_code == 409
        assert duplicate.headers["Retry-After"] == "1"


# --- cleanup ------------------------------------------------------------------------------------


def test_db_cleanup_removes_ended_sessions_only(client, app, user):
    from core.clock import utcnow
    from stores.sessions import build_session_document, insert_session

    live = claims_of(app, login(client, user)["refresh_token"])["sid"]
    with app.app_context():
        now = utcnow()
        insert_session(
            build_session_document("ended", user["_id"], now - timedelta(days=31), now, "j")
        )
    result = app.test_cli_runner().invoke(args=["db", "cleanup"])
    assert result.exit_code == 0, result.output
    assert "removed 1 ended sessions" in result.output
    assert stored_session(app, "ended") is None
    assert stored_session(app, live) is not None
