"""The API-wide rate limit under uwsgi (2 workers) with its counters in Redis: reached at exactly
the configured number across both workers, refused in the error shape with its headers, and off
when RATELIMIT_ENABLED=false. (Recovery after the window is tested with a fake clock in
tests/unit/test_rate_limits.py; here the counter's expiry in Redis is checked.)"""

from __future__ import annotations

import time

import pytest
import redis
import requests

from tests.e2e.helpers import cli_user_headers, create_api_key, in_parallel, on_both_workers
from tests.servers import LiveServer

LIMIT = 5
ATTEMPTS = 16
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


@pytest.fixture
def limited_server(start_live_server) -> LiveServer:
    return start_live_server(RATELIMIT_ENABLED=True, DEFAULT_RATE_LIMIT=LIMIT)


def hammer(server: LiveServer, headers: dict[str, str]) -> list[requests.Response]:
    url = f"{server.url}/api/v1/templates"
    return in_parallel(ATTEMPTS, lambda _: requests.get(url, headers=headers, timeout=15))


def statuses(responses: list[requests.Response]) -> list[int]:
    return sorted(response.status_code for response in responses)


def test_an_api_key_gets_exactly_the_limit_across_both_workers(limited_server):
    def with_a_new_key() -> list[requests.Response]:
        return hammer(limited_server, {"X-API-KEY": create_api_key(limited_server)})

    responses = on_both_workers(limited_server, with_a_new_key)
    assert statuses(responses) == [200] * LIMIT + [429] * (ATTEMPTS - LIMIT)


def test_a_user_gets_exactly_the_limit_across_both_workers(limited_server, http):
    def as_a_new_user() -> list[requests.Response]:
        # The account comes from the CLI: only its login spends the IP's budget of LIMIT.
        return hammer(limited_server, cli_user_headers(limited_server, http))

    responses = on_both_workers(limited_server, as_a_new_user, tries=LIMIT - 1)
    assert statuses(responses) == [200] * LIMIT + [429] * (ATTEMPTS - LIMIT)


def test_a_refusal_is_429_in_the_error_shape_with_every_header(limited_server):
    responses = hammer(limited_server, {"X-API-KEY": create_api_key(limited_server)})
    refused = next(response for response in responses if response.status_code == 429)
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused.headers["X-RateLimit-Limit"] == str(LIMIT)
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    retry_after = int(refused.headers["Retry-After"])
    assert 0 < retry_after <= 60
    assert abs(int(refused.headers["X-RateLimit-Reset"]) - (time.time() + retry_after)) <= 2


def test_successful_responses_count_down_in_their_headers(limited_server, http):
    # One after the other: under concurrency `Remaining` is read after other requests' hits.
    headers = {"X-API-KEY": create_api_key(limited_server)}
    url = f"{limited_server.url}/api/v1/templates"
    accepted = [http.get(url, headers=headers) for _ in range(LIMIT)]
    assert [response.status_code for response in accepted] == [200] * LIMIT
    assert all(name in response.headers for response in accepted for name in RATE_HEADERS)
    remaining = [int(response.headers["X-RateLimit-Remaining"]) for response in accepted]
    assert remaining == list(reversed(range(LIMIT)))
    assert not any("Retry-After" in response.headers for response in accepted)


def test_the_counter_lives_in_redis_and_expires_with_the_window(limited_server):
    key = create_api_key(limited_server)
    hammer(limited_server, {"X-API-KEY": key})
    key_id = key.split("_")[1]
    with redis.Redis.from_url(limited_server.env["REDIS_URL"], socket_timeout=5) as client:
        (counter,) = [name for name in client.scan_iter() if f"apikey:{key_id}".encode() in name]
        assert int(client.get(counter)) >= LIMIT
        assert 0 < client.ttl(counter) <= 60


def test_rate_limits_are_off_when_disabled(live_server):
    assert live_server.env["RATELIMIT_ENABLED"] == "false"
    headers = {"X-API-KEY": create_api_key(live_server)}
    responses = [
        *hammer(live_server, headers),
        *hammer(live_server, headers),
    ]
    assert set(statuses(responses)) == {200}
    assert not any("X-RateLimit-Limit" in response.headers for response in responses)
