"""Safe retries over real HTTP, under uwsgi with 2 workers on FerretDB and redis-server: one key
creates one object however many times and however concurrently its POST is sent."""

from __future__ import annotations

import uuid

import pymongo
import requests

from tests.e2e.helpers import API, at_once, bearer, login, register
from tests.servers import LiveServer

KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
CONCURRENT = 20


def count(live_server: LiveServer, collection: str, query: dict) -> int:
    """Documents matching `query`, read straight from the server's database."""
    with pymongo.MongoClient(live_server.env["MONGO_URI"], serverSelectionTimeoutMS=5000) as client:
        return client.get_default_database()[collection].count_documents(query)


def signed_in(http: requests.Session, live_server: LiveServer) -> dict[str, str]:
    return bearer(login(http, live_server, register(http, live_server))["access_token"])


def test_concurrent_identical_posts_with_one_key_create_one_todo(http, live_server):
    headers = {**signed_in(http, live_server), KEY: str(uuid.uuid4())}
    title = f"once {uuid.uuid4().hex[:8]}"
    url = f"{live_server.url}{API}/todos"

    def post() -> requests.Response:
        return requests.post(url, json={"title": title}, headers=headers, timeout=30)

    responses = list(at_once({str(n): post for n in range(CONCURRENT)}).values())

    assert len(responses) == CONCURRENT
    created = [r for r in responses if r.status_code == 201 and REPLAYED not in r.headers]
    replayed = [r for r in responses if r.status_code == 201 and r.headers.get(REPLAYED) == "true"]
    in_progress = [r for r in responses if r.status_code == 409]
    assert len(created) == 1
    assert len(created) + len(replayed) + len(in_progress) == CONCURRENT
    todo_id = created[0].json()["id"]
    assert {r.json()["id"] for r in replayed} <= {todo_id}
    for refused in in_progress:
        assert refused.json()["error"]["code"] == "request_in_progress"
        assert refused.headers["Retry-After"] == "1"
    assert count(live_server, "todos", {"title": title}) == 1

    listed = http.get(url, headers=headers)
    assert [item["id"] for item in listed.json()["items"]] == [todo_id]


def test_a_retry_after_the_first_committed_returns_the_same_todo(http, live_server):
    headers = {**signed_in(http, live_server), KEY: str(uuid.uuid4())}
    url = f"{live_server.url}{API}/todos"
    first = http.post(url, json={"title": "Buy milk", "tags": ["shop"]}, headers=headers)
    assert first.status_code == 201, first.text
    retry = http.post(url, json={"tags": ["shop"], "title": "Buy milk"}, headers=headers)

    assert retry.status_code == 201
    assert retry.headers[REPLAYED] == "true"
    assert retry.json() == first.json()
    assert retry.headers["Location"] == first.headers["Location"]
    assert retry.headers["ETag"] == first.headers["ETag"]
    assert http.get(f"{live_server.url}{first.headers['Location']}", headers=headers).ok
    assert count(live_server, "todos", {"title": "Buy milk"}) == 1

    other = http.post(url, json={"title": "Buy bread"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"


def test_a_register_retry_returns_the_same_user(http, live_server):
    username = f"u{uuid.uuid4().hex[:10]}"
    account = {"username": username, "email": f"{username}@example.com", "password": "password-123"}
    headers = {KEY: str(uuid.uuid4())}
    url = f"{live_server.url}{API}/auth/register"
    first = http.post(url, json=account, headers=headers)
    assert first.status_code == 201, first.text
    retry = http.post(url, json=account, headers=headers)

    assert retry.status_code == 201
    assert retry.headers[REPLAYED] == "true"
    assert retry.json() == first.json()
    assert count(live_server, "users", {"username": username}) == 1
    login(http, live_server, account)
