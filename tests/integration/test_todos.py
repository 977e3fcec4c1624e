"""Todos on the real servers (FerretDB, redis-server), where mongomock could hide a difference:
extreme dates and the undated sentinel through sorting and cursors, prefix ranges, the write lock."""

from __future__ import annotations

import pytest

from db import get_db
from extensions import get_redis
from services.tokens import issue_token_pair
from stores.users import build_user_document, insert_user
from tests.support import TODOS


@pytest.fixture
def headers(app) -> dict[str, str]:
    with app.app_context():
        user = insert_user(build_user_document("dana", "dana@example.com", "-"))
        return {"Authorization": f"Bearer {issue_token_pair(user)['access_token']}"}


def walk_titles(client, headers, **query) -> list[str]:
    titles, params = [], dict(query)
    while True:
        response = client.get(TODOS, query_string=params, headers=headers)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        titles += [item["title"] for item in body["items"]]
        if body["meta"]["next_cursor"] is None:
            return titles
        params["cursor"] = body["meta"]["next_cursor"]


def test_extreme_and_missing_due_dates_sort_and_page_on_ferretdb(client, headers):
    for title, due in [
        ("late", "9999-12-31"),
        ("none", None),
        ("early", "0001-01-01"),
        ("mid", "2030-06-15"),
    ]:
        response = client.post(TODOS, json={"title": title, "due": due}, headers=headers)
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["due"] == due
    assert walk_titles(client, headers, sort="due", limit=1) == ["early", "mid", "late", "none"]
    assert walk_titles(client, headers, sort="-due", limit=1) == ["none", "late", "mid", "early"]


def test_title_prefix_range_on_ferretdb(client, headers):
    for title in ("Äpfel kaufen", "äpfel schälen", "Apfel", "a.b", "ab"):
        client.post(TODOS, json={"title": title}, headers=headers)
    found = client.get(TODOS, query_string={"q": "ÄPFEL", "sort": "title"}, headers=headers)
    assert [item["title"] for item in found.get_json()["items"]] == [
        "Äpfel kaufen",
        "äpfel schälen",
    ]
    dotted = client.get(TODOS, query_string={"q": "a."}, headers=headers)
    assert [item["title"] for item in dotted.get_json()["items"]] == ["a.b"]


def test_write_releases_its_lock_in_redis_and_bumps_the_version(app, client, headers):
    todo = client.post(TODOS, json={"title": "locked"}, headers=headers).get_json()
    response = client.patch(f"{TODOS}/{todo['id']}", json={"done": True}, headers=headers)
    assert response.status_code == 200
    with app.app_context():
        assert get_redis().exists(f"lock:todo:{todo['id']}") == 0
        assert get_db().todos.find_one({"title": "locked"})["version"] == 2


def test_auto_write_locks_are_on_for_ferretdb_1(app, client, headers, monkeypatch):
    from stores import locks

    monkeypatch.setattr(locks, "LOCK_WAIT_SECONDS", 0.05)
    todo = client.post(TODOS, json={"title": "guarded"}, headers=headers).get_json()
    with app.app_context():
        get_redis().set(locks.lock_key(f"todo:{todo['id']}"), b"another-request", px=60_000)
    response = client.patch(f"{TODOS}/{todo['id']}", json={"done": True}, headers=headers)
    assert response.status_code == 409
    assert app.extensions[locks.DECIDED] is True


def test_with_write_locks_off_a_write_takes_no_lock_on_ferretdb(app_config):
    from app import create_app
    from stores import locks
    from tests.integration.conftest import close_clients

    app = create_app({**app_config, "WRITE_LOCKS": "off"})
    client = app.test_client()
    try:
        with app.app_context():
            user = insert_user(build_user_document("omar", "omar@example.com", "-"))
            auth = {"Authorization": f"Bearer {issue_token_pair(user)['access_token']}"}
        todo = client.post(TODOS, json={"title": "free"}, headers=auth).get_json()
        with app.app_context():
            get_redis().set(locks.lock_key(f"todo:{todo['id']}"), b"another-request", px=60_000)
        response = client.patch(f"{TODOS}/{todo['id']}", json={"done": True}, headers=auth)
        assert response.status_code == 200
        assert locks.DECIDED not in app.extensions
    finally:
        close_clients(app)
