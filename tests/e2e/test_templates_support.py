"""Helpers (no tests) shared by the e2e tests of templates, API keys and rate limits: the CLI run
against a live server's settings, a logged-in user, and proof that both uwsgi workers answered."""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import requests

from tests.servers import LiveServer

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


def login(server: LiveServer, http: requests.Session) -> dict[str, str]:
    """Register a fresh user over HTTP and return Authorization headers for it."""
    username = f"u{uuid.uuid4().hex[:10]}"
    password = "e2e-password-1"
    registered = http.post(
        f"{server.url}/api/v1/auth/register",
        json={"username": username, "email": f"{username}@example.com", "password": password},
    )
    assert registered.status_code == 201, registered.text
    response = http.post(
        f"{server.url}/api/v1/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def requests_per_worker(log_text: str) -> Counter[int]:
    """How many requests each worker answered, from the app's JSON request log lines."""
    served: Counter[int] = Counter()
    for line in log_text.splitlines():
        if line.startswith("{") and '"logger": "api.request"' in line:
            served[json.loads(line)["pid"]] += 1
    return served


@contextmanager
def both_workers_busy(server: LiveServer) -> Iterator[None]:
    """Assert that every worker answered requests inside the block (not just one of them)."""
    pids = server.worker_pids()
    assert len(pids) == 2, server.log_tail()
    offset = len(server.log_text())
    yield
    served = requests_per_worker(server.log_text()[offset:])
    assert all(served[pid] > 0 for pid in pids), f"requests per worker: {dict(served)}"


def in_parallel(count: int, task: Callable[[int], Any], threads: int = 4) -> list[Any]:
    """Run task(0..count-1) on several threads: concurrent requests keep both workers busy."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(task, range(count)))
