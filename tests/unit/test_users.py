"""Profiles and account management: who may see and change what."""

from __future__ import annotations

import pytest

from db import get_db
from tests.support import LOGIN, REFRESH, bearer


def user_url(user) -> str:
    return f"/api/v1/users/{user['_id']}"


def login(client, user, password="correct horse 1") -> dict:
    response = client.post(LOGIN, json={"username": user["username"], "password": password})
    assert response.status_code == 200
    return response.get_json()


@pytest.fixture
def other(make_user):
    return make_user("other", name="Other Person")[0]


def test_me_is_the_caller_with_email(client, user, auth_headers):
    body = client.get("/api/v1/users/me", headers=auth_headers(user)).get_json()
    assert body["id"] == str(user["_id"]) and body["email"] == user["email"]
    assert "password_hash" not in body and "password" not in body


def test_other_users_email_is_hidden_from_users(client, user, other, auth_headers):
    body = client.get(user_url(other), headers=auth_headers(user)).get_json()
    assert body["username"] == "other" and "email" not in body


def test_other_users_email_is_shown_to_admins(client, admin, other, auth_headers):
    assert (
        client.get(user_url(other), headers=auth_headers(admin)).get_json()["email"]
        == other["email"]
    )


@pytest.mark.parametrize(
    "path", ["/api/v1/users/0123456789abcdef01234567", "/api/v1/users/not-an-id"]
)
def test_unknown_or_malformed_user_id_is_404(client, user, auth_headers, path):
    response = client.get(path, headers=auth_headers(user))
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_user_updates_own_name_and_email(client, user, auth_headers):
    response = client.patch(
        user_url(user),
        json={"name": "New Name", "email": "new@example.com"},
        headers=auth_headers(user),
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["name"] == "New Name" and body["email"] == "new@example.com"
    assert body["updated"] >= body["created"]


def test_taking_someone_elses_email_is_409(client, user, other, auth_headers):
    response = client.patch(
        user_url(user), json={"email": other["email"].upper()}, headers=auth_headers(user)
    )
    assert response.status_code == 409


def test_a_patch_refused_for_a_taken_email_has_revoked_nobody(client, user, other):
    this_login = login(client, user)
    other_login = login(client, user)
    response = client.patch(
        user_url(user),
        json={
            "email": other["email"],
            "password": "brand-new-pw",
            "current_password": "correct horse 1",
        },
        headers=bearer(this_login["access_token"]),
    )
    assert response.status_code == 409
    assert response.get_json()["error"]["details"] == {"email": ["taken"]}
    assert (
        client.get("/api/v1/users/me", headers=bearer(other_login["access_token"])).status_code
        == 200
    )
    assert client.post(REFRESH, headers=bearer(other_login["refresh_token"])).status_code == 200
    login(client, user)  # the password did not change either


def test_ferretdbs_duplicate_key_on_update_is_a_409_naming_the_field(
    client, app, user, other, auth_headers, monkeypatch
):
    """FerretDB 1.24 reports a unique violation on findAndModify as OperationFailure code 1
    naming its SQLite index (tests/integration/test_unique_fields.py shows it for real)."""
    import mongomock
    from pymongo.errors import OperationFailure

    def ferretdb_says_duplicate(self, *args, **kwargs):
        raise OperationFailure(
            "constraint failed: UNIQUE constraint failed: index 'users_ab12cd34_email_lc_unique'"
            " (2067)",
            code=1,
        )

    monkeypatch.setattr(
        mongomock.collection.Collection, "find_one_and_update", ferretdb_says_duplicate
    )
    response = client.patch(
        user_url(user), json={"email": "new@example.com"}, headers=auth_headers(user)
    )
    assert response.status_code == 409
    assert response.get_json()["error"]["details"] == {"email": ["taken"]}


def test_user_cannot_change_another_user(client, user, other, auth_headers):
    response = client.patch(user_url(other), json={"name": "hacked"}, headers=auth_headers(user))
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


def test_user_cannot_make_themself_admin(client, user, auth_headers):
    response = client.patch(user_url(user), json={"role": "admin"}, headers=auth_headers(user))
    assert response.status_code == 403


def test_admin_changes_role_and_old_tokens_die(client, admin, other, auth_headers):
    other_tokens = login(client, other)
    response = client.patch(user_url(other), json={"role": "admin"}, headers=auth_headers(admin))
    assert response.status_code == 200 and response.get_json()["role"] == "admin"
    # The old token claims the old role, so it must not outlive the change.
    assert (
        client.get("/api/v1/users/me", headers=bearer(other_tokens["access_token"])).status_code
        == 401
    )


def test_own_password_change_needs_the_current_password(client, user, auth_headers):
    response = client.patch(
        user_url(user), json={"password": "brand-new-pw"}, headers=auth_headers(user)
    )
    assert response.status_code == 422
    assert "current_password" in response.get_json()["error"]["details"]


def test_password_change_revokes_other_logins_but_not_this_one(client, user):
    this_login = login(client, user)
    other_login = login(client, user)
    response = client.patch(
        user_url(user),
        json={"password": "brand-new-pw", "current_password": "correct horse 1"},
        headers=bearer(this_login["access_token"]),
    )
    assert response.status_code == 200
    assert (
        client.get("/api/v1/users/me", headers=bearer(this_login["access_token"])).status_code
        == 200
    )
    assert (
        client.get("/api/v1/users/me", headers=bearer(other_login["access_token"])).status_code
        == 401
    )
    assert client.post(REFRESH, headers=bearer(other_login["refresh_token"])).status_code == 401
    assert (
        client.post(
            LOGIN, json={"username": user["username"], "password": "correct horse 1"}
        ).status_code
        == 401
    )
    assert (
        client.post(
            LOGIN, json={"username": user["username"], "password": "brand-new-pw"}
        ).status_code
        == 200
    )


def test_delete_account_removes_todos_and_kills_every_token(client, app, user, other):
    tokens = login(client, user)
    with app.app_context():
        get_db().todos.insert_many(
            [
                {"owner_id": user["_id"], "title": "mine"},
                {"owner_id": other["_id"], "title": "theirs"},
            ]
        )
    response = client.delete(user_url(user), headers=bearer(tokens["access_token"]))
    assert response.status_code == 204 and response.get_data() == b""
    with app.app_context():
        assert get_db().users.find_one({"_id": user["_id"]}) is None
        assert get_db().todos.count_documents({"owner_id": user["_id"]}) == 0
        assert get_db().todos.count_documents({"owner_id": other["_id"]}) == 1
    assert client.get("/api/v1/users/me", headers=bearer(tokens["access_token"])).status_code == 401
    assert client.post(REFRESH, headers=bearer(tokens["refresh_token"])).status_code == 401


def test_user_cannot_delete_another_user(client, user, other, auth_headers):
    assert client.delete(user_url(other), headers=auth_headers(user)).status_code == 403


def test_admin_deletes_another_user(client, admin, other, auth_headers):
    assert client.delete(user_url(other), headers=auth_headers(admin)).status_code == 204
    assert client.get(user_url(other), headers=auth_headers(admin)).status_code == 404
