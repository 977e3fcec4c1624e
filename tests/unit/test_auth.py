"""Register, login, refresh rotation and logout, on the in-process stand-ins."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support import LOGIN, LOGOUT, ME, REFRESH, REGISTER, bearer


@pytest.fixture
def registered(client):
    body = {"username": "Alice_1", "email": "Alice@Example.com", "password": "s3cret-pass"}
    assert client.post(REGISTER, json=body).status_code == 201
    return body


@pytest.fixture
def tokens(client, registered):
    response = client.post(LOGIN, json={"username": "alice_1", "password": "s3cret-pass"})
    assert response.status_code == 200
    return response.get_json()


def test_register_returns_the_user_with_location(client):
    response = client.post(
        REGISTER,
        json={
            "username": "bob",
            "email": "bob@example.com",
            "password": "longenough",
            "name": "Bob B",
        },
    )
    assert response.status_code == 201
    user = response.get_json()
    assert set(user) == {
        "id",
        "username",
        "email",
        "email_verified",
        "name",
        "role",
        "created",
        "updated",
    }
    assert user["email_verified"] is False
    assert user["role"] == "user" and user["name"] == "Bob B"
    assert user["created"].endswith("Z")
    assert response.headers["Location"] == f"/api/v1/users/{user['id']}"


def test_register_stores_only_an_argon2id_hash(client, app):
    """(Tests hash with argon2-cffi's CHEAPEST profile; production's default is checked below.)"""
    client.post(
        REGISTER, json={"username": "carol", "email": "c@example.com", "password": "plaintext-pw"}
    )
    with app.app_context():
        from db import get_db

        stored = get_db().users.find_one({"username": "carol"})
    assert stored["password_hash"].startswith("$argon2id$")
    assert "plaintext-pw" not in str(stored)


@pytest.mark.parametrize(
    "taken",
    [
        {"username": "ALICE_1", "email": "other@example.com"},
        {"username": "someone", "email": "alice@EXAMPLE.com"},
    ],
)
def test_duplicate_username_or_email_in_any_case_is_409(client, registered, taken):
    response = client.post(REGISTER, json={**taken, "password": "whatever123"})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "conflict"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "ab", "email": "a@example.com", "password": "12345678"}, "username"),
        ({"username": "bad name", "email": "a@example.com", "password": "12345678"}, "username"),
        ({"username": "x" * 33, "email": "a@example.com", "password": "12345678"}, "username"),
        ({"username": "okname", "email": "not-an-email", "password": "12345678"}, "email"),
        ({"username": "okname", "email": "a@example.com", "password": "short"}, "password"),
        ({"username": "okname", "email": "a@example.com", "password": "p" * 129}, "password"),
        (
            {
                "username": "okname",
                "email": "a@example.com",
                "password": "12345678",
                "name": "n" * 101,
            },
            "name",
        ),
        (
            {"username": {"$ne": None}, "email": "a@example.com", "password": "12345678"},
            "username.$ne",
        ),
        ({"username": 123, "email": "a@example.com", "password": "12345678"}, "username"),
        (
            {
                "username": "okname",
                "email": "a@example.com",
                "password": "12345678",
                "role": "admin",
            },
            "role",
        ),
        (
            {"username": "okname", "email": "a@example.com", "password": "12345678", "$where": "1"},
            "$where",
        ),
        (
            {"username": "okname", "email": "a@example.com", "password": "12345678", "a.b": "1"},
            "a.b",
        ),
    ],
)
def test_invalid_registration_is_422_naming_the_field(client, body, field):
    response = client.post(REGISTER, json=body)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]


def test_login_accepts_username_or_email_in_any_case(client, registered):
    for login in ("ALICE_1", "alice@example.COM"):
        response = client.post(LOGIN, json={"username": login, "password": "s3cret-pass"})
        assert response.status_code == 200
        body = response.get_json()
        assert body["token_type"] == "Bearer" and body["expires_in"] == 900


def test_unknown_user_and_wrong_password_answer_the_same(client, registered):
    wrong_password = client.post(LOGIN, json={"username": "alice_1", "password": "nope-nope"})
    unknown_user = client.post(LOGIN, json={"username": "nobody", "password": "nope-nope"})
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.get_json() == unknown_user.get_json()
    assert wrong_password.get_json()["error"]["code"] == "invalid_credentials"


@pytest.mark.parametrize(
    "body",
    [
        {"username": {"$ne": None}, "password": "x"},
        {"username": "alice_1", "password": {"$gt": ""}},
        {"username": ["alice_1"], "password": "x"},
        {"username": "alice_1"},
    ],
)
def test_injection_shapes_at_login_never_succeed(client, registered, body):
    assert client.post(LOGIN, json=body).status_code == 422


def test_access_token_reaches_protected_endpoints(client, tokens):
    response = client.get(ME, headers=bearer(tokens["access_token"]))
    assert response.status_code == 200
    assert response.get_json()["username"] == "Alice_1"


def test_refresh_token_is_refused_outside_refresh(client, tokens):
    response = client.get(ME, headers=bearer(tokens["refresh_token"]))
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_token"


def test_access_token_is_refused_at_refresh(client, tokens):
    response = client.post(REFRESH, headers=bearer(tokens["access_token"]))
    assert response.status_code == 401


def test_refresh_returns_a_new_working_pair(client, tokens):
    response = client.post(REFRESH, headers=bearer(tokens["refresh_token"]))
    assert response.status_code == 200
    pair = response.get_json()
    assert pair["refresh_token"] != tokens["refresh_token"]
    assert client.get(ME, headers=bearer(pair["access_token"])).status_code == 200


def test_refresh_replay_after_the_grace_is_rejected_and_revokes_the_login(
    client, app, tokens, monkeypatch
):
    # No grace: the replay comes after it (tests/unit/test_sessions.py covers replays within).
    monkeypatch.setitem(app.config, "JWT_REFRESH_REUSE_GRACE", timedelta(0))
    new_pair = client.post(REFRESH, headers=bearer(tokens["refresh_token"])).get_json()
    replay = client.post(REFRESH, headers=bearer(tokens["refresh_token"]))
    assert replay.status_code == 401
    assert replay.get_json()["error"]["code"] == "token_revoked"
    # The thief or the client holds a copy: the whole login is dead, including the new pair.
    assert client.get(ME, headers=bearer(new_pair["access_token"])).status_code == 401
    assert client.post(REFRESH, headers=bearer(new_pair["refresh_token"])).status_code == 401


def test_logout_revokes_access_and_refresh_tokens(client, tokens):
    response = client.post(LOGOUT, headers=bearer(tokens["access_token"]))
    assert response.status_code == 204 and response.get_data() == b""
    me = client.get(ME, headers=bearer(tokens["access_token"]))
    assert me.status_code == 401 and me.get_json()["error"]["code"] == "token_revoked"
    assert client.post(REFRESH, headers=bearer(tokens["refresh_token"])).status_code == 401


def test_logout_leaves_other_logins_alone(client, tokens):
    other = client.post(LOGIN, json={"username": "alice_1", "password": "s3cret-pass"}).get_json()
    client.post(LOGOUT, headers=bearer(tokens["access_token"]))
    assert client.get(ME, headers=bearer(other["access_token"])).status_code == 200


def test_tampered_token_is_401(client, tokens):
    header, payload, signature = tokens["access_token"].split(".")
    tampered = (
        f"{header}.{payload}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"
    )
    response = client.get(ME, headers=bearer(tampered))
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_token"


def test_expired_token_is_401_token_expired(client, app, user):
    from flask_jwt_extended import create_access_token

    with app.app_context():
        token = create_access_token(str(user["_id"]), expires_delta=timedelta(seconds=-1))
    response = client.get(ME, headers=bearer(token))
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "token_expired"


def test_password_is_rehashed_when_parameters_change(client, app, registered, monkeypatch):
    from db import get_db

    def stored_hash() -> str:
        with app.app_context():
            return get_db().users.find_one({"username_lc": "alice_1"})["password_hash"]

    before = stored_hash()
    monkeypatch.setitem(app.config, "PASSWORD_HASH_PROFILE", "RFC_9106_LOW_MEMORY")
    response = client.post(LOGIN, json={"username": "alice_1", "password": "s3cret-pass"})
    assert response.status_code == 200
    after = stored_hash()
    assert after != before and after.startswith("$argon2id$") and "m=65536,t=3" in after


class TestLoginRateLimit:
    @pytest.fixture
    def app_config(self, app_config):
        # Every budget at 3: the first test spends the account's, the second the address's.
        return {
            **app_config,
            "RATELIMIT_ENABLED": True,
            "LOGIN_RATE_LIMIT": 3,
            "LOGIN_ACCOUNT_RATE_LIMIT": 3,
            "LOGIN_ADDRESS_RATE_LIMIT": 3,
        }

    @staticmethod
    def login_from(client, ip: str, username: str, password: str = "wrong-one"):
        return client.post(
            LOGIN,
            json={"username": username, "password": password},
            environ_base={"REMOTE_ADDR": ip},
        )

    def test_one_username_is_limited_across_ips_with_retry_after(self, client, registered):
        for n in range(3):
            self.login_from(client, f"10.0.0.{n}", "alice_1")
        response = self.login_from(client, "10.0.0.99", "ALICE_1", "s3cret-pass")
        assert response.status_code == 429
        assert response.get_json()["error"]["code"] == "rate_limited"
        assert int(response.headers["Retry-After"]) > 0
        assert response.headers["X-RateLimit-Limit"] == "3"

    def test_one_ip_is_limited_across_usernames(self, client, registered):
        for n in range(3):
            self.login_from(client, "10.0.0.1", f"someone{n}")
        assert self.login_from(client, "10.0.0.1", "alice_1", "s3cret-pass").status_code == 429
        assert self.login_from(client, "10.0.0.2", "alice_1", "s3cret-pass").status_code == 200
