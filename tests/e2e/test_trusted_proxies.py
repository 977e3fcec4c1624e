"""TRUSTED_PROXY_HOPS under uwsgi: with 0 a forged X-Forwarded-For changes nothing; with 1 (Heroku)
the last address is the client, for the rate limits and the request log alike, and whatever the
client put before it is ignored."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import requests

from tests.servers import LiveServer

LIMIT = 3


@pytest.fixture(scope="module")
def direct_server(live_server_factory) -> Iterator[LiveServer]:
    """Reached with no proxy in front (TRUSTED_PROXY_HOPS=0, the default)."""
    server = live_server_factory.start(RATELIMIT_ENABLED=True, DEFAULT_RATE_LIMIT=LIMIT)
    yield server
    live_server_factory.stop(server)


@pytest.fixture(scope="module")
def proxied_server(live_server_factory) -> Iterator[LiveServer]:
    """Behind one proxy, as on Heroku (TRUSTED_PROXY_HOPS=1)."""
    server = live_server_factory.start(
        RATELIMIT_ENABLED=True, DEFAULT_RATE_LIMIT=LIMIT, TRUSTED_PROXY_HOPS=1
    )
    yield server
    live_server_factory.stop(server)


def get(http: requests.Session, server: LiveServer, forwarded_for: str, request_id: str = ""):
    headers = {"X-Forwarded-For": forwarded_for, "X-Request-ID": request_id or uuid.uuid4().hex}
    return http.get(f"{server.url}/api/v1/nowhere", headers=headers)


def logged_address(server: LiveServer, request_id: str) -> str:
    """The client address in the request's JSON log line."""
    for line in server.log_text().splitlines():
        if line.startswith("{") and f'"request_id": "{request_id}"' in line:
            return json.loads(line)["remote_addr"]
    raise AssertionError(f"no log line for request {request_id}")


def test_without_trusted_proxies_a_forged_header_changes_nothing(direct_server, http):
    statuses = [get(http, direct_server, f"203.0.113.{n}").status_code for n in range(LIMIT + 1)]
    assert statuses == [404] * LIMIT + [429]
    request_id = uuid.uuid4().hex
    get(http, direct_server, "203.0.113.50", request_id)
    assert logged_address(direct_server, request_id) == "127.0.0.1"


def test_behind_one_proxy_each_client_address_has_its_own_budget(proxied_server, http):
    statuses = [get(http, proxied_server, "203.0.113.1").status_code for _ in range(LIMIT + 1)]
    assert statuses == [404] * LIMIT + [429]
    assert get(http, proxied_server, "203.0.113.2").status_code == 404


def test_behind_one_proxy_what_the_client_prepends_is_ignored(proxied_server, http):
    statuses = [
        get(http, proxied_server, f"192.0.2.{n}, 203.0.113.3").status_code for n in range(LIMIT + 1)
    ]
    assert statuses == [404] * LIMIT + [429]


def test_behind_one_proxy_the_request_log_carries_the_client_address(proxied_server, http):
    request_id = uuid.uuid4().hex
    get(http, proxied_server, "192.0.2.99, 198.51.100.23", request_id)
    assert logged_address(proxied_server, request_id) == "198.51.100.23"
