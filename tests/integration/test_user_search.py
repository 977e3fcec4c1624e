"""User search on FerretDB 1.24 and redis-server: the same results the contract defines for every
sort and both pagination modes, the `user_prefixes` rows kept in step by every write path,
renames racing each other, and the repair command."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial

import pytest
from bson import ObjectId

from db import get_db
from services.tokens import issue_token_pair
from stores.user_prefixes import prefix_rows, repair_rows, row_id
from tests.support import REGISTER, USERS, bearer
from tests.user_search_cases import (
    PEOPLE,
    QUERIES,
    SORTS,
    add_listed_user,
    check_search,
    created_of,
    expected_rows,
    expected_usernames,
    json_getter,
)


@pytest.fixture
def add_user(app):
    return partial(add_listed_user, app)


@pytest.fixture
def headers_of(app):
    def headers(user: dict) -> dict[str, str]:
        with app.app_context():
            return bearer(issue_token_pair(user)["access_token"])

    return headers


@pytest.fixture
def caller(add_user, headers_of) -> dict[str, str]:
    return headers_of(add_user("caller", "The Caller"))


@pytest.fixture
def get_json(client, caller):
    return json_getter(client, caller)


def all_users(app) -> list[dict]:
    with app.app_context():
        return list(get_db().users.find())


def stored_rows(app) -> set[str]:
    with app.app_context():
        return {row["_id"] for row in get_db().user_prefixes.find({}, {"_id": 1})}


def test_search_returns_what_the_contract_says_for_every_query_and_sort(app, add_user, get_json):
    for index, (username, name) in enumerate(PEOPLE):
        add_user(username, name, created=created_of(index))
    users = all_users(app)
    for q in QUERIES:
        for sort in SORTS:
            check_search(get_json, users, q, sort, limits=(3,))


def test_every_write_path_keeps_the_rows_in_step(app, client, add_user, headers_of, get_json):
    people = {u: add_user(u, name, created_of(i)) for i, (u, name) in enumerate(PEOPLE[:12])}
    register = {"username": "newt", "email": "newt@example.com", "password": "password-123"}
    assert client.post(REGISTER, json={**register, "name": "Zoë Maria"}).status_code == 201
    taken = {**register, "username": "NEWT", "email": "other@example.com"}
    assert client.post(REGISTER, json={**taken, "name": "Ghost Rows"}).status_code == 409
    for username, name in (("mario_rossi", "Tito Martinez"), ("twain", "")):
        user = people[username]
        patch = client.patch(
            f"{USERS}/{user['_id']}", json={"name": name}, headers=headers_of(user)
        )
        assert patch.status_code == 200
    refused = client.patch(
        f"{USERS}/{people['marta']['_id']}",
        json={"name": "Never Stored", "email": "newt@example.com"},
        headers=headers_of(people["marta"]),
    )
    assert refused.status_code == 409
    gone = people["maria.gomez"]
    assert client.delete(f"{USERS}/{gone['_id']}", headers=headers_of(gone)).status_code == 204
    assert app.test_cli_runner().invoke(args=["users", "seed", "--count", "40"]).exit_code == 0

    users = all_users(app)
    assert stored_rows(app) == expected_rows(users)
    for q in ("m", "mar", "t", "zo", "ghost", "never"):
        for sort in SORTS:
            check_search(get_json, users, q, sort, limits=(4,))


def test_concurrent_renames_of_one_user_leave_every_row_its_name_needs(
    app, client, add_user, headers_of, get_json
):
    user = add_user("racer", "Start Name")
    headers = headers_of(user)
    names = [f"Name{n} Word{n}" for n in range(10)]

    def rename(name: str) -> int:
        url = f"{USERS}/{user['_id']}"
        return client.patch(url, json={"name": name}, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=5) as pool:
        statuses = list(pool.map(rename, names))
    assert set(statuses) <= {200, 409} and 200 in statuses
    users = all_users(app)
    assert expected_rows(users) <= stored_rows(app)
    for q in ("name", "word", "start", *(f"name{n}" for n in range(10))):
        assert [i["username"] for i in get_json(USERS, {"q": q})["items"]] == expected_usernames(
            users, q, "username"
        )


def test_repair_restores_exact_rows_after_a_crash_and_is_idempotent(app, add_user, get_json):
    users = [add_user(f"user{n}", f"First{n} Last") for n in range(25)]
    with app.app_context():
        rows = get_db().user_prefixes
        rows.delete_many({"_id": {"$gte": f"{users[4]['_id']}:", "$lt": f"{users[4]['_id']};"}})
        orphan = {"_id": row_id(ObjectId(), "us"), "prefix": "us", "username_lc": "a"}
        rows.insert_one({**orphan, "created": datetime(2020, 1, 1)})
    assert "user4" not in [item["username"] for item in get_json(USERS, {"q": "user4"})["items"]]
    with app.app_context():
        first = repair_rows(get_db(), batch=6)
        again = repair_rows(get_db(), batch=6)
    assert (first.added, first.removed) == (len(prefix_rows(users[4])), 1)
    assert (again.added, again.removed) == (0, 0)
    assert stored_rows(app) == expected_rows(all_users(app))
    assert [item["username"] for item in get_json(USERS, {"q": "user4"})["items"]] == ["user4"]


def test_db_init_builds_the_rows_of_users_written_before_them(app, add_user):
    add_user("early", "Before Rows")
    with app.app_context():
        get_db().user_prefixes.drop()
    result = app.test_cli_runner().invoke(args=["db", "init"])
    assert result.exit_code == 0, result.output
    assert stored_rows(app) == expected_rows(all_users(app))
