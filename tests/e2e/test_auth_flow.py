"""Accounts and tokens end to end: uwsgi with two workers, FerretDB and Redis."""

from __future__ import annotations

import json
import threading
import uuid

import requests

from tests.e2e.helpers import (
    API,
    at_once,
    bearer,
    get_in_parallel,
    login,
    register,
    request_ids_by_worker,
)


def test_register_login_refresh_logout(live_server, http):
    account = register(http, live_server, name="Grace Hopper")
    tokens = login(http, live_server, account)
    me = http.get(f"{live_server.url}{API}/users/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200 and me.json()["name"] == "Grace Hopper"

    refreshed = http.post(
        f"{live_server.url}{API}/auth/refresh", headers=bearer(tokens["refresh_token"])
    )
    assert refreshed.status_code == 200
    pair = refreshed.json()
    assert (
        http.get(
            f"{live_server.url}{API}/users/me", headers=bearer(pair["access_token"])
        ).status_code
        == 200
    )

    assert (
        http.post(
            f"{live_server.url}{API}/auth/logout", headers=bearer(pair["access_token"])
        ).status_code
        == 204
    )
    for token in (pair["access_token"],):
        response = http.get(f"{live_server.url}{API}/users/me", headers=bearer(token))
        assert response.status_code == 401 and response.json()["error"]["code"] == "token_revoked"
    assert (
        http.post(
            f"{live_server.url}{API}/auth/refresh", headers=bearer(pair["refresh_token"])
        ).status_code
        == 401
    )


def test_revocation_is_seen_by_every_worker(live_server, http):
    tokens = login(http, live_server, register(http, live_server))
    headers = bearer(tokens["access_token"])
    http.post(f"{live_server.url}{API}/auth/logout", headers=headers)
    results, workers = [], set()
    # uwsgi spreads requests unevenly: send concurrent batches until both workers have answered.
    for _ in range(10):
        results += get_in_parallel(f"{live_server.url}{API}/users/me", headers)
        served_by = request_ids_by_worker(live_server)
        workers = {served_by[request_id] for _, request_id in results}
        if len(workers) == 2:
            break
    assert {status for status, _ in results} == {401}
    assert len(workers) == 2, "both workers answered"


def test_revocation_holds_after_the_app_restarts(live_server, http):
    tokens = login(http, live_server, register(http, live_server))
    http.post(f"{live_server.url}{API}/auth/logout", headers=bearer(tokens["access_token"]))
    live_server.restart()
    assert (
        http.get(
            f"{live_server.url}{API}/users/me", headers=bearer(tokens["access_token"])
        ).status_code
        == 401
    )
    assert (
        http.post(
            f"{live_server.url}{API}/auth/refresh", headers=bearer(tokens["refresh_token"])
        ).status_code
        == 401
    )


def test_a_retried_refresh_within_the_grace_gets_the_same_pair(live_server, http):
    tokens = login(http, live_server, register(http, live_server))
    url = f"{live_server.url}{API}/auth/refresh"
    first = http.post(url, headers=bearer(tokens["refresh_token"]))
    retried = http.post(url, headers=bearer(tokens["refresh_token"]))
    assert first.status_code == retried.status_code == 200
    assert retried.json() == first.json()
    pair = first.json()
    me = http.get(f"{live_server.url}{API}/users/me", headers=bearer(pair["access_token"]))
    assert me.status_code == 200
    assert http.post(url, headers=bearer(pair["refresh_token"])).status_code == 200


def test_refresh_replay_after_the_grace_is_rejected_and_kills_the_login(start_live_server, http):
    server = start_live_server(JWT_REFRESH_REUSE_GRACE=0)
    tokens = login(http, server, register(http, server))
    pair = http.post(
        f"{server.url}{API}/auth/refresh", headers=bearer(tokens["refresh_token"])
    ).json()
    replay = http.post(f"{server.url}{API}/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert replay.status_code == 401
    assert (
        http.get(f"{server.url}{API}/users/me", headers=bearer(pair["access_token"])).status_code
        == 401
    )


def test_concurrent_refreshes_with_one_token_give_one_new_pair(live_server, http):
    """A client retrying a refresh several times at once (both workers answering): every answer
    is that one new pair, or a 409 to retry; nothing is revoked."""
    tokens = login(http, live_server, register(http, live_server))
    url = f"{live_server.url}{API}/auth/refresh"
    responses = at_once(
        {
            f"r{n}": lambda: requests.post(url, headers=bearer(tokens["refresh_token"]), timeout=15)
            for n in range(6)
        }
    )
    statuses = [response.status_code for response in responses.values()]
    assert set(statuses) <= {200, 409} and 200 in statuses, statuses
    pairs = {response.text for response in responses.values() if response.status_code == 200}
    assert len(pairs) == 1
    pair = json.loads(pairs.pop())
    me = http.get(f"{live_server.url}{API}/users/me", headers=bearer(pair["access_token"]))
    assert me.status_code == 200
    assert http.post(url, headers=bearer(pair["refresh_token"])).status_code == 200


def test_a_logged_out_login_stays_revoked_after_redis_lost_everything(
    live_server, redis_server, http
):
    tokens = login(http, live_server, register(http, live_server))
    http.post(f"{live_server.url}{API}/auth/logout", headers=bearer(tokens["access_token"]))
    redis_db = int(live_server.env["REDIS_URL"].rsplit("/", 1)[-1])
    with redis_server.client(redis_db) as client:
        client.flushdb()
    refreshed = http.post(
        f"{live_server.url}{API}/auth/refresh", headers=bearer(tokens["refresh_token"])
    )
    assert refreshed.status_code == 401
    assert refreshed.json()["error"]["code"] == "token_revoked"


def test_concurrent_duplicate_registrations_make_one_account(live_server, http):
    username = f"race{uuid.uuid4().hex[:8]}"
    statuses = []

    def attempt(n: int):
        body = {
            "username": username if n % 2 else username.upper(),
            "email": f"{username}{n}@example.com",
            "password": "password-123",
        }
        statuses.append(
            requests.post(
                f"{live_server.url}{API}/auth/register", json=body, timeout=15
            ).status_code
        )

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [409] * 7


def test_injection_shapes_never_log_in(live_server, http):
    account = register(http, live_server)
    for body in (
        {"username": {"$ne": None}, "password": {"$ne": None}},
        {"username": account["username"], "password": {"$gt": ""}},
        {"username": {"$regex": ".*"}, "password": "x"},
        {"$where": "1", "username": "a", "password": "b"},
    ):
        response = http.post(f"{live_server.url}{API}/auth/login", json=body)
        assert response.status_code == 422, body


def test_admin_may_change_roles_and_users_may_not(live_server, http):
    admin_name = f"adm{uuid.uuid4().hex[:8]}"
    result = live_server.flask(
        "users",
        "create-admin",
        "--username",
        admin_name,
        "--email",
        f"{admin_name}@example.com",
        "--password",
        "admin-password-1",
    )
    assert result.returncode == 0, result.stderr
    admin_tokens = login(
        http, live_server, {"username": admin_name, "password": "admin-password-1"}
    )
    user = register(http, live_server)
    user_tokens = login(http, live_server, user)
    url = f"{live_server.url}{API}/users/{user['id']}"
    assert (
        http.patch(
            url, json={"role": "admin"}, headers=bearer(user_tokens["access_token"])
        ).status_code
        == 403
    )
    seen_by_admin = http.get(url, headers=bearer(admin_tokens["access_token"])).json()
    assert seen_by_admin["email"] == user["email"]
    promoted = http.patch(url, json={"role": "admin"}, headers=bearer(admin_tokens["access_token"]))
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"


def test_deleting_an_account_kills_its_tokens_and_todos(live_server, http):
    account = register(http, live_server)
    tokens = login(http, live_server, account)
    headers = bearer(tokens["access_token"])
    created = http.post(f"{live_server.url}{API}/todos", json={"title": "doomed"}, headers=headers)
    assert created.status_code == 201
    assert (
        http.delete(f"{live_server.url}{API}/users/{account['id']}", headers=headers).status_code
        == 204
    )
    results = get_in_parallel(f"{live_server.url}{API}/users/me", headers, count=8)
    assert {status for status, _ in results} == {401}
    assert (
        http.post(
            f"{live_server.url}{API}/auth/refresh", headers=bearer(tokens["refresh_token"])
        ).status_code
        == 401
    )
    import pymongo

    with pymongo.MongoClient(live_server.env["MONGO_URI"], serverSelectionTimeoutMS=3000) as client:
        database = client.get_default_database()
        assert database.todos.count_documents({"title": "doomed"}) == 0
        assert database.users.count_documents({"username": account["username"]}) == 0
