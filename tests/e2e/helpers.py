"""Small HTTP helpers shared by the e2e tests: accounts, tokens, and who served a request."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.servers import LiveServer

API = "/api/v1"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register(
    http: requests.Session, server: LiveServer, username: str | None = None, **extra
) -> dict:
    """Register a fresh account; returns its request body plus the created user's `id`."""
    username = username or f"u{uuid.uuid4().hex[:10]}"
    body = {
        "username": username,
        "email": f"{username}@example.com",
        "password": "password-123",
        **extra,
    }
    response = http.post(f"{server.url}{API}/auth/register", json=body)
    assert response.status_code == 201, response.text
    return {**body, "id": response.json()["id"]}


def login(http: requests.Session, server: LiveServer, account: dict) -> dict:
    response = http.post(
        f"{server.url}{API}/auth/login",
        json={"username": account["username"], "password": account["password"]},
    )
    assert response.status_code == 200, response.text
    return response.json()


def request_ids_by_worker(server: LiveServer) -> dict[str, int]:
    """request id -> pid of the uwsgi worker that served it, from the app's JSON log lines."""
    served = {}
    for line in server.log_text().splitlines():
        if line.startswith("{") and '"request_id"' in line:
            entry = json.loads(line)
            served[entry["request_id"]] = entry["pid"]
    return served


def get_in_parallel(url: str, headers: dict[str, str], count: int = 24) -> list[tuple[int, str]]:
    """`count` concurrent GETs, so both uwsgi workers answer some; (status, request id) each."""

    def one(_):
        response = requests.get(url, headers=headers, timeout=15)
        return response.status_code, response.headers["X-Request-ID"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(count)))


def at_once(calls: dict[str, Callable[[], requests.Response]]) -> dict[str, requests.Response]:
    """Run every call from its own thread, released together by a barrier; responses by name."""
    barrier = threading.Barrier(len(calls))
    results: dict[str, requests.Response] = {}

    def run(name: str) -> None:
        barrier.wait(timeout=10)
        results[name] = calls[name]()

    threads = [threading.Thread(target=run, args=(name,)) for name in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results
