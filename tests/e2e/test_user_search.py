"""GET /users over real HTTP: the app under uwsgi (2 workers) on FerretDB and redis-server.

Users are inserted straight into the app's database with their search rows, as the stores write
them (with identical creation times where ties matter), each test under its own random prefix so tests sharing the server do not see each
other's users. Data stays small: FerretDB 1.24 scans for every query. Each request opens its own
connection (see test_todos.py on uwsgi and reused connections).
"""

from __future__ import annotations

import random
import string
from datetime import datetime

import pymongo
import pytest
import requests
from bson import ObjectId

from stores.user_prefixes import prefix_rows
from stores.users import build_user_document
from tests.servers import LiveServer


def get(live_server: LiveServer, path: str, headers: dict, **params) -> requests.Response:
    url = path if path.startswith("http") else f"{live_server.url}{path}"
    return requests.get(url, params=params or None, headers=headers, timeout=15)


@pytest.fixture(scope="module")
def database(live_server: LiveServer):
    with pymongo.MongoClient(live_server.env["MONGO_URI"]) as client:
        yield client.get_default_database()


@pytest.fixture(scope="module")
def users_collection(database):
    return database.users


@pytest.fixture(scope="module")
def headers(live_server: LiveServer) -> dict[str, str]:
    """A registered, logged-in caller."""
    account = {
        "username": "searcher",
        "email": "searcher@example.com",
        "password": "password-123",
        "name": "Sam Searcher",
    }
    registered = requests.post(f"{live_server.url}/api/v1/auth/register", json=account, timeout=15)
    assert registered.status_code == 201, registered.text
    login = requests.post(
        f"{live_server.url}/api/v1/auth/login",
        json={"username": account["username"], "password": account["password"]},
        timeout=15,
    )
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


@pytest.fixture
def tag() -> str:
    """A prefix no other user in the database starts with."""
    return "zq" + "".join(random.choices(string.ascii_lowercase, k=6))


@pytest.fixture
def insert_users(database):
    """Insert users from (username, name, created or None) triples, search rows first; returns
    the documents."""

    def insert(*specs: tuple[str, str, datetime | None]) -> list[dict]:
        documents = []
        for username, name, created in specs:
            document = build_user_document(username, f"{username}@example.com", "x", name)
            if created is not None:
                document["created"] = document["updated"] = created
            document["_id"] = ObjectId()
            documents.append(document)
        database.user_prefixes.insert_many([row for doc in documents for row in prefix_rows(doc)])
        database.users.insert_many(documents)
        return documents

    return insert


def usernames(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["username"] for item in response.json()["items"]]


def walk(live_server: LiveServer, headers: dict, **params) -> list[str]:
    """Follow next links from the first page to the last; every username, in order."""
    response = get(live_server, "/api/v1/users", headers, **params)
    seen = usernames(response)
    while next_link := response.json()["links"].get("next"):
        response = get(live_server, next_link, headers)
        seen += usernames(response)
    return seen


def test_q_matches_username_and_name_word_prefixes_case_insensitively(
    live_server, headers, insert_users, tag
):
    insert_users(
        (f"{tag}_by_username", "Plain Name", None),
        (f"x{tag}", f"Ada {tag.upper()}son", None),
        (f"y{tag}", f"Inside{tag}Word", None),
    )
    found = usernames(get(live_server, "/api/v1/users", headers, q=tag.upper()[:5]))
    assert found == [f"x{tag}", f"{tag}_by_username"]


@pytest.mark.parametrize("q", [".*", "(a+)+$", "[a-z]", "^s", "s|z", "\\"])
def test_regex_metacharacters_in_q_are_literal(live_server, headers, q):
    assert usernames(get(live_server, "/api/v1/users", headers, q=q)) == []


def test_punctuation_in_q_matches_only_itself(live_server, headers, insert_users, tag):
    insert_users((f"{tag}.dot", "", None), (f"{tag}xdot", "", None))
    assert usernames(get(live_server, "/api/v1/users", headers, q=f"{tag}.")) == [f"{tag}.dot"]


@pytest.mark.parametrize(
    ("sort_name", "key", "reverse"),
    [
        ("username", "username_lc", False),
        ("-username", "username_lc", True),
        ("created", "created", False),
        ("-created", "created", True),
    ],
)
def test_cursor_walk_visits_every_match_exactly_once_in_order_with_ties(
    live_server, headers, insert_users, tag, sort_name, key, reverse
):
    ties = [datetime(2024, 3, day, 12, 0, 0) for day in (1, 2, 3)]
    documents = insert_users(*[(f"{tag}{n:02d}", f"Tied User{n}", ties[n % 3]) for n in range(23)])
    expected = sorted(documents, key=lambda d: (d[key], d["_id"]), reverse=reverse)
    seen = walk(live_server, headers, q=tag, sort=sort_name, limit=4)
    assert seen == [d["username"] for d in expected]


def test_walk_without_q_visits_every_user_exactly_once(
    live_server, headers, insert_users, users_collection, tag
):
    same = datetime(2024, 4, 1)
    insert_users(*[(f"{tag}{n}", "", same) for n in range(9)])
    everyone = sorted(user["username"] for user in users_collection.find({}, {"username": 1}))
    seen = walk(live_server, headers, sort="-created", limit=7)
    assert sorted(seen) == everyone and len(seen) == len(set(seen))


def test_page_mode_totals_the_matches(live_server, headers, insert_users, tag):
    insert_users(*[(f"{tag}{n}", "", None) for n in range(7)])
    body = get(live_server, "/api/v1/users", headers, q=tag, page=2, per_page=3).json()
    assert [item["username"] for item in body["items"]] == [f"{tag}{n}" for n in (3, 4, 5)]
    assert body["meta"]["total"] == 7


def test_page_beyond_the_window_is_400(live_server, headers):
    response = get(live_server, "/api/v1/users", headers, q="a", page=501, per_page=20)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "page_window_exceeded"


def test_q_over_100_characters_is_400(live_server, headers):
    response = get(live_server, "/api/v1/users", headers, q="a" * 101)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


def test_other_users_emails_are_hidden(live_server, headers, insert_users, tag):
    insert_users((f"{tag}mail", "", None))
    (item,) = get(live_server, "/api/v1/users", headers, q=tag).json()["items"]
    assert item["username"] == f"{tag}mail" and "email" not in item


def test_registered_and_renamed_users_are_found_by_their_name_words(live_server, headers, tag):
    api = f"{live_server.url}/api/v1"
    body = {"username": f"{tag}reg", "password": "password-123"}
    created = requests.post(
        f"{api}/auth/register",
        json={**body, "email": f"{tag}@example.com", "name": f"Ada {tag}Lovelace"},
        timeout=15,
    )
    assert created.status_code == 201
    assert usernames(get(live_server, "/api/v1/users", headers, q=f"{tag}LOVE")) == [
        body["username"]
    ]

    token = requests.post(f"{api}/auth/login", json=body, timeout=15).json()["access_token"]
    renamed = requests.patch(
        f"{api}/users/{created.json()['id']}",
        json={"name": f"Ada {tag}Byron"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=15,
    )
    assert renamed.status_code == 200
    assert usernames(get(live_server, "/api/v1/users", headers, q=f"{tag}byr")) == [
        body["username"]
    ]
    assert usernames(get(live_server, "/api/v1/users", headers, q=f"{tag}love")) == []
