"""Login sessions on the real servers: MongoDB is the record every refresh checks, so no
revocation comes back when redis-server loses all its data (FLUSHALL)."""

from __future__ import annotations

import pytest

from core.clock import utcnow
from db import get_db
from extensions import get_redis
from tests.support import API, bearer

PASSWORD = "password-123"


@pytest.fixture
def app_config(app_config):
    # No reuse grace, so presenting a replaced refresh token is reuse at once.
    return {**app_config, "JWT_REFRESH_REUSE_GRACE": 0}


@pytest.fixture
def account(client) -> dict:
    body = {"username": "ivy", "email": "ivy@example.com", "password": PASSWORD}
    response = client.post(f"{API}/auth/register", json=body)
    assert response.status_code == 201
    return response.get_json()


def login(client) -> dict:
    response = client.post(f"{API}/auth/login", json={"username": "ivy", "password": PASSWORD})
    assert response.status_code == 200
    return response.get_json()


def refresh(client, pair: dict):
    return client.post(f"{API}/auth/refresh", headers=bearer(pair["refresh_token"]))


def redis_loses_everything(app) -> None:
    with app.app_context():
        get_redis().flushall()


def assert_refused(response) -> None:
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "token_revoked"


def test_a_logged_out_session_cannot_be_refreshed_after_redis_lost_everything(client, app, account):
    pair = login(client)
    assert (
        client.post(f"{API}/auth/logout", headers=bearer(pair["access_token"])).status_code == 204
    )
    redis_loses_everything(app)
    assert_refused(refresh(client, pair))


def test_a_session_revoked_for_reuse_stays_revoked_after_redis_lost_everything(
    client, app, account
):
    first = login(client)
    second = refresh(client, first).get_json()
    assert_refused(refresh(client, first))
    redis_loses_everything(app)
    assert_refused(refresh(client, second))


def test_reuse_is_detected_after_redis_lost_everything(client, app, account):
    first = login(client)
    second = refresh(client, first).get_json()
    redis_loses_everything(app)
    assert_refused(refresh(client, first))  # replaced before the loss: MongoDB remembers
    assert_refused(refresh(client, second))


def test_a_password_change_ends_other_sessions_even_after_redis_lost_everything(
    client, app, account
):
    this_login, other_login = login(client), login(client)
    changed = client.patch(
        f"{API}/users/{account['id']}",
        json={"password": "brand-new-pw", "current_password": PASSWORD},
        headers=bearer(this_login["access_token"]),
    )
    assert changed.status_code == 200
    redis_loses_everything(app)
    assert_refused(refresh(client, other_login))
    assert refresh(client, this_login).status_code == 200
    with app.app_context():
        other = get_db().sessions.find_one({"revoked_why": "password_changed"})
    assert other is not None


def test_a_deleted_account_cannot_refresh_after_redis_lost_everything(client, app, account):
    pair = login(client)
    deleted = client.delete(f"{API}/users/{account['id']}", headers=bearer(pair["access_token"]))
    assert deleted.status_code == 204
    redis_loses_everything(app)
    assert_refused(refresh(client, pair))


def test_db_init_removes_ended_sessions_and_finishes_interrupted_deletions(client, app, account):
    from datetime import timedelta

    from bson import ObjectId

    from stores.sessions import build_session_document, insert_session
    from stores.users import mark_user_deleting

    login(client)
    with app.app_context():
        now = utcnow()
        insert_session(
            build_session_document("ended", ObjectId(), now - timedelta(days=31), now, "j")
        )
        mark_user_deleting(ObjectId(account["id"]))  # a deletion that stopped right after its mark
    result = app.test_cli_runner().invoke(args=["db", "init"])
    assert result.exit_code == 0, result.output
    assert "removed 1 ended sessions; finished 1 account deletions" in result.output
    with app.app_context():
        assert get_db().sessions.count_documents({}) == 0
        assert get_db().users.count_documents({}) == 0
