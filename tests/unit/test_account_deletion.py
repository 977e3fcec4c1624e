"""Deleting an account cannot half-succeed: marked first, then its data, then the user; a retry
or `flask db cleanup` finishes an interrupted deletion; a racing todo is taken back."""

from __future__ import annotations

import pymongo.errors
import pytest

import services.accounts
import stores.todos
from db import get_db
from tests.support import LOGIN, ME, REFRESH, TODOS, bearer

PASSWORD = "correct horse 1"


def login(client, user) -> dict:
    response = client.post(LOGIN, json={"username": user["username"], "password": PASSWORD})
    assert response.status_code == 200
    return response.get_json()


def user_url(user) -> str:
    return f"/api/v1/users/{user['_id']}"


def remaining(app, user) -> dict[str, int]:
    with app.app_context():
        db = get_db()
        return {
            "users": db.users.count_documents({"_id": user["_id"]}),
            "todos": db.todos.count_documents({"owner_id": user["_id"]}),
            "sessions": db.sessions.count_documents({"user_id": user["_id"]}),
        }


@pytest.fixture
def interrupted_deletion(client, app, user, monkeypatch):
    """A self-deletion whose last step (removing the user document) fails: returns the login
    that asked for it, after the failed DELETE."""
    pair = login(client, user)
    assert (
        client.post(TODOS, json={"title": "mine"}, headers=bearer(pair["access_token"])).status_code
        == 201
    )

    def database_drops_out(user_id):
        raise pymongo.errors.AutoReconnect("connection lost")

    monkeypatch.setattr(services.accounts, "delete_user", database_drops_out)
    response = client.delete(user_url(user), headers=bearer(pair["access_token"]))
    assert response.status_code == 503
    monkeypatch.undo()
    return pair


def test_an_interrupted_deletion_leaves_the_account_closed(
    client, app, user, admin, auth_headers, interrupted_deletion
):
    pair = interrupted_deletion
    assert remaining(app, user) == {"users": 1, "todos": 0, "sessions": 0}
    relogin = client.post(LOGIN, json={"username": user["username"], "password": PASSWORD})
    assert relogin.status_code == 401
    assert relogin.get_json()["error"]["code"] == "invalid_credentials"
    assert client.get(ME, headers=bearer(pair["access_token"])).status_code == 401
    assert client.post(REFRESH, headers=bearer(pair["refresh_token"])).status_code == 401
    assert client.get(user_url(user), headers=auth_headers(admin)).status_code == 404


def test_an_admins_retry_finishes_an_interrupted_deletion(
    client, app, user, admin, auth_headers, interrupted_deletion
):
    assert client.delete(user_url(user), headers=auth_headers(admin)).status_code == 204
    assert remaining(app, user) == {"users": 0, "todos": 0, "sessions": 0}
    assert client.delete(user_url(user), headers=auth_headers(admin)).status_code == 404


def test_db_cleanup_finishes_interrupted_deletions(app, user, interrupted_deletion):
    result = app.test_cli_runner().invoke(args=["db", "cleanup"])
    assert result.exit_code == 0, result.output
    assert "finished 1 account deletions" in result.output
    assert remaining(app, user) == {"users": 0, "todos": 0, "sessions": 0}


def test_deletion_removes_the_accounts_sessions(client, app, user):
    pair = login(client, user)
    login(client, user)
    assert remaining(app, user)["sessions"] == 2
    assert client.delete(user_url(user), headers=bearer(pair["access_token"])).status_code == 204
    assert remaining(app, user) == {"users": 0, "todos": 0, "sessions": 0}


def test_a_todo_created_by_a_request_that_raced_the_deletion_is_removed(
    client, app, user, auth_headers, monkeypatch
):
    """The request passed its token check, then the whole deletion ran, then it inserted."""
    headers = auth_headers(user)
    real_collection = stores.todos.todos

    class DeletedJustBeforeTheInsert:
        def __init__(self, collection):
            self.collection = collection

        def insert_one(self, document):
            monkeypatch.setattr(stores.todos, "todos", real_collection)
            services.accounts.delete_account(user["_id"])
            return self.collection.insert_one(document)

        def __getattr__(self, name):
            return getattr(self.collection, name)

    monkeypatch.setattr(
        stores.todos, "todos", lambda: DeletedJustBeforeTheInsert(real_collection())
    )
    response = client.post(TODOS, json={"title": "late"}, headers=headers)
    assert response.status_code == 404
    assert remaining(app, user) == {"users": 0, "todos": 0, "sessions": 0}
