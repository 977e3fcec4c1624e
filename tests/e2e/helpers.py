"""The e2e tests' helpers, in one place: accounts and tokens over HTTP, API keys from the CLI run
against a live server's settings, concurrency, polling, and proof that both uwsgi workers
answered."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import requests

from tests.servers import LiveServer
from tests.support import API, bearer

T = TypeVar("T")


def wait_for(check: Callable[[], bool], within: float) -> bool:
    """Poll `check` until it holds (True) or `within` seconds have passed (False)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


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


KEY_LINE = re.compile(r"^tk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$", re.MULTILINE)


def templates_url(server: LiveServer) -> str:
    return f"{server.url}/api/v1/templates"


def create_api_key(server: LiveServer, owner: str = "e2e-bot") -> str:
    """A new key, printed once by the CLI."""
    result = server.flask("apikeys", "create", "--owner", owner)
    assert result.returncode == 0, result.stderr
    return KEY_LINE.search(result.stdout).group(0)


def secret_of(key: str) -> str:
    """The random part of `tk_<id>_<secret>` (which may itself hold `_`)."""
    return key.split("_", 2)[2]


def revoke_api_key(server: LiveServer, reference: str) -> None:
    result = server.flask("apikeys", "revoke", reference)
    assert result.returncode == 0, result.stderr


def login_headers(server: LiveServer, http: requests.Session) -> dict[str, str]:
    """Register a fresh user over HTTP and return Authorization headers for it."""
    return bearer(login(http, server, register(http, server))["access_token"])


def cli_user_headers(server: LiveServer, http: requests.Session) -> dict[str, str]:
    """A fresh account made with the CLI (no request to the server), logged in over HTTP."""
    account = {"username": f"c{uuid.uuid4().hex[:10]}", "password": "cli-password-1"}
    result = server.flask(
        "users",
        "create-admin",
        "--username",
        account["username"],
        "--email",
        f"{account['username']}@example.com",
        "--password",
        account["password"],
    )
    assert result.returncode == 0, result.stderr
    return bearer(login(http, server, account)["access_token"])


def requests_per_worker(log_text: str) -> Counter[int]:
    """How many requests each worker answered, from the app's JSON request log lines."""
    served: Counter[int] = Counter()
    for line in log_text.splitlines():
        if line.startswith("{") and '"logger": "api.request"' in line:
            served[json.loads(line)["pid"]] += 1
    return served


def on_both_workers(server: LiveServer, attempt: Callable[[], T], tries: int = 4) -> T:
    """Run `attempt` until both uwsgi workers answered some of its requests, and return what that
    attempt returned. uwsgi spreads requests unevenly (on a busy machine one worker may take a
    whole burst), so a test proving something across workers makes a fresh attempt, with fresh
    state, rather than trusting one burst; it fails after `tries` attempts."""
    pids = server.worker_pids()
    assert len(pids) == 2, server.log_tail()
    served: Counter[int] = Counter()
    for _ in range(tries):
        offset = len(server.log_text())
        result = attempt()
        served = requests_per_worker(server.log_text()[offset:])
        if all(served[pid] > 0 for pid in pids):
            return result
    raise AssertionError(f"one worker took every request of {tries} attempts: {dict(served)}")


def in_parallel(count: int, task: Callable[[int], Any], threads: int = 4) -> list[Any]:
    """Run task(0..count-1) on several threads: concurrent requests keep both workers busy."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(task, range(count)))
