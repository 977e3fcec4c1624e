"""WRITE_LOCKS (stores/locks.py): when a conditional write takes a Redis lock, decided lazily."""

from __future__ import annotations

import pytest

from app import create_app
from extensions import get_redis
from stores import locks
from tests.support import TODOS


class FakeAdmin:
    def __init__(self, build_info: dict) -> None:
        self.build_info = build_info

    def command(self, name: str) -> dict:
        assert name == "buildInfo"
        return self.build_info


class FakeClient:
    def __init__(self, build_info: dict) -> None:
        self.admin = FakeAdmin(build_info)


class FakeDatabase:
    def __init__(self, build_info: dict) -> None:
        self.client = FakeClient(build_info)


@pytest.mark.parametrize(
    ("build_info", "needed"),
    [
        ({"version": "7.0.42", "ferretdbVersion": "v1.24.2"}, True),
        ({"version": "7.0.77", "ferretdbVersion": "v2.5.0"}, False),
        ({"version": "7.0.14"}, False),
    ],
)
def test_only_ferretdb_1_needs_locks(build_info, needed):
    assert locks.server_needs_locks(FakeDatabase(build_info)) is needed


def test_the_in_process_stand_in_needs_locks(app):
    from db import get_db

    with app.app_context():
        assert locks.server_needs_locks(get_db()) is True


def test_auto_asks_the_server_on_the_first_conditional_write_not_at_start(
    app, client, auth_headers, user
):
    assert locks.DECIDED not in app.extensions
    headers = auth_headers(user)
    todo = client.post(TODOS, json={"title": "t"}, headers=headers).get_json()
    assert locks.DECIDED not in app.extensions  # an insert takes no lock
    client.patch(f"{TODOS}/{todo['id']}", json={"done": True}, headers=headers)
    assert app.extensions[locks.DECIDED] is True


@pytest.mark.parametrize(("mode", "status"), [("off", 200), ("on", 409)])
def test_a_held_lock_blocks_writes_only_when_locks_are_on(app_config, monkeypatch, mode, status):
    app = create_app({**app_config, "WRITE_LOCKS": mode})
    client = app.test_client()
    monkeypatch.setattr(locks, "LOCK_WAIT_SECONDS", 0.05)
    from services.tokens import issue_token_pair
    from stores.users import build_user_document, insert_user

    with app.app_context():
        user = insert_user(build_user_document("lena", "lena@example.com", "-"))
        headers = {"Authorization": f"Bearer {issue_token_pair(user)['access_token']}"}
    todo = client.post(TODOS, json={"title": "t"}, headers=headers).get_json()
    with app.app_context():
        get_redis().set(locks.lock_key(f"todo:{todo['id']}"), b"another-request", px=60_000)
    response = client.patch(f"{TODOS}/{todo['id']}", json={"done": True}, headers=headers)
    assert response.status_code == status
    assert locks.DECIDED not in app.extensions  # a forced mode never asks the server
