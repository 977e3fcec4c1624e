"""Unique fields on every write path, on FerretDB: its duplicate-key error on findAndModify is an
OperationFailure (code 1) naming the index, not MongoDB's 11000."""

from __future__ import annotations

import pytest

from tests.support import API, bearer

PASSWORD = "password-123"


def register_and_login(client, username: str) -> tuple[dict, dict]:
    body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    created = client.post(f"{API}/auth/register", json=body)
    assert created.status_code == 201
    tokens = client.post(f"{API}/auth/login", json={"username": username, "password": PASSWORD})
    assert tokens.status_code == 200
    return created.get_json(), tokens.get_json()


@pytest.fixture
def taken_email(client) -> str:
    register_and_login(client, "holder")
    return "HOLDER@example.com"


def test_patching_to_a_taken_email_is_409_naming_it(client, taken_email):
    user, tokens = register_and_login(client, "mover")
    response = client.patch(
        f"{API}/users/{user['id']}",
        json={"email": taken_email},
        headers=bearer(tokens["access_token"]),
    )
    assert response.status_code == 409
    assert response.get_json()["error"] == {
        "code": "conflict",
        "message": "That email is already taken.",
        "details": {"email": ["taken"]},
    }


def test_a_patch_refused_for_a_taken_email_has_revoked_nobody(client, taken_email):
    user, this_login = register_and_login(client, "mover")
    other_login = client.post(
        f"{API}/auth/login", json={"username": "mover", "password": PASSWORD}
    ).get_json()
    response = client.patch(
        f"{API}/users/{user['id']}",
        json={"email": taken_email, "password": "brand-new-pw", "current_password": PASSWORD},
        headers=bearer(this_login["access_token"]),
    )
    assert response.status_code == 409
    assert (
        client.get(f"{API}/users/me", headers=bearer(other_login["access_token"])).status_code
        == 200
    )
    assert (
        client.post(f"{API}/auth/refresh", headers=bearer(other_login["refresh_token"])).status_code
        == 200
    )


def test_an_admin_patching_a_taken_email_with_a_role_change_is_409(client, app, taken_email):
    from core.roles import ADMIN
    from services.passwords import hash_password
    from stores.users import build_user_document, insert_user

    with app.app_context():
        insert_user(
            build_user_document("root", "root@example.com", hash_password(PASSWORD), role=ADMIN)
        )
    admin_tokens = client.post(
        f"{API}/auth/login", json={"username": "root", "password": PASSWORD}
    ).get_json()
    user, user_tokens = register_and_login(client, "mover")
    response = client.patch(
        f"{API}/users/{user['id']}",
        json={"email": taken_email, "role": "admin"},
        headers=bearer(admin_tokens["access_token"]),
    )
    assert response.status_code == 409
    assert response.get_json()["error"]["details"] == {"email": ["taken"]}
    me = client.get(f"{API}/users/me", headers=bearer(user_tokens["access_token"]))
    assert me.status_code == 200 and me.get_json()["role"] == "user"
