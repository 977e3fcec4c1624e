"""Login throttling under uwsgi (2 workers), counted in Redis, behind one trusted proxy so that
clients can come from several addresses: a wrong-password flood from one address never locks the
owner out, and a login that names no account is throttled exactly like one that does."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator

import pytest
import redis
import requests

from tests.e2e.helpers import API, in_parallel, register, requests_per_worker
from tests.servers import LiveServer

PAIR, ACCOUNT, ADDRESS = 4, 30, 10
FLOOD = 16
MAX_ROUNDS = 10
WRONG = "wrong-password"


@pytest.fixture(scope="module")
def server(live_server_factory) -> Iterator[LiveServer]:
    server = live_server_factory.start(
        RATELIMIT_ENABLED=True,
        DEFAULT_RATE_LIMIT=1000,
        REGISTER_RATE_LIMIT=1000,
        LOGIN_RATE_LIMIT=PAIR,
        LOGIN_ACCOUNT_RATE_LIMIT=ACCOUNT,
        LOGIN_ADDRESS_RATE_LIMIT=ADDRESS,
        TRUSTED_PROXY_HOPS=1,
    )
    yield server
    live_server_factory.stop(server)


def new_address() -> str:
    """A client address of its own for one test, as the proxy would report it."""
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"


def login(server: LiveServer, username: str, password: str, address: str) -> requests.Response:
    return requests.post(
        f"{server.url}{API}/auth/login",
        json={"username": username, "password": password},
        headers={"X-Forwarded-For": address},
        timeout=15,
    )


def seen(response: requests.Response) -> tuple:
    """What a client learns from a login answer (Retry-After aside, which moves with the clock)."""
    limit_headers = ("X-RateLimit-Limit", "X-RateLimit-Remaining")
    return (
        response.status_code,
        response.json(),
        {name: response.headers.get(name) for name in limit_headers},
        "Retry-After" in response.headers,
    )


def test_a_wrong_password_flood_from_one_address_never_locks_the_owner_out(server, http):
    owner = register(http, server)
    attacker, home = new_address(), new_address()
    workers = set(server.worker_pids())
    assert len(workers) == 2, server.log_tail()
    offset = len(server.log_text())
    statuses: list[int] = []
    # Rounds until both workers have answered some of the flood (one may take a whole round).
    for _ in range(MAX_ROUNDS):
        statuses += in_parallel(
            FLOOD, lambda _: login(server, owner["username"], WRONG, attacker).status_code
        )
        if set(requests_per_worker(server.log_text()[offset:])) >= workers:
            break
    assert set(requests_per_worker(server.log_text()[offset:])) >= workers
    assert set(statuses) == {401, 429}
    # Each budget is tested before and charged after the attempt: with two single-threaded
    # workers, the other one may have let at most one more failure through meanwhile.
    assert PAIR <= statuses.count(401) <= PAIR + 1

    assert login(server, owner["username"], owner["password"], home).status_code == 200
    refused = login(server, owner["username"], owner["password"], attacker)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused.headers["X-RateLimit-Limit"] == str(PAIR)
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert 0 < int(refused.headers["Retry-After"]) <= 60


def test_username_and_email_share_one_budget(server, http):
    owner = register(http, server)
    address = new_address()
    for login_name in (owner["username"], owner["email"].upper()) * (PAIR // 2):
        assert login(server, login_name, WRONG, address).status_code == 401
    assert login(server, owner["email"], owner["password"], address).status_code == 429


def test_an_unknown_login_is_throttled_exactly_like_an_account(server, http):
    owner = register(http, server)

    def attempts(username: str) -> list[tuple]:
        attacker, elsewhere = new_address(), new_address()
        answers = [seen(login(server, username, WRONG, attacker)) for _ in range(PAIR + 2)]
        return [*answers, seen(login(server, username, WRONG, elsewhere))]

    known = attempts(owner["username"])
    unknown = attempts(f"nobody-{uuid.uuid4().hex[:8]}")
    assert [answer[0] for answer in known] == [401] * PAIR + [429, 429, 401]
    assert unknown == known


def test_the_counters_live_in_redis_and_hold_no_login_string(server):
    unknown = f"Nobody-{uuid.uuid4().hex[:8]}"
    login(server, unknown, WRONG, new_address())
    digest = hashlib.sha256(unknown.lower().encode()).hexdigest()
    with redis.Redis.from_url(server.env["REDIS_URL"], socket_timeout=5) as client:
        keys = [key.decode() for key in client.scan_iter()]
        assert not [key for key in keys if unknown.lower() in key.lower()]
        counters = [key for key in keys if digest in key]
        assert len(counters) == 2  # the (account, address) and the account budgets
        assert all(int(client.get(key)) == 1 and 0 < client.ttl(key) <= 60 for key in counters)
