"""What an authenticated request asks Redis, on a real redis-server: the blocklist's MGET and the
rate limiter's one script, nothing else; and the rate-limit headers still count right
(extensions.OneTripRedisStorage)."""

from __future__ import annotations

import time

import pytest

from extensions import get_redis
from services.tokens import issue_token_pair
from stores.users import build_user_document, insert_user
from tests.support import ME, bearer

LIMIT = 5


@pytest.fixture
def app_config(app_config):
    return {**app_config, "RATELIMIT_ENABLED": True, "DEFAULT_RATE_LIMIT": LIMIT}


@pytest.fixture
def headers(app):
    with app.app_context():
        user = insert_user(build_user_document("trips", "trips@example.com", "-"))
        return bearer(issue_token_pair(user)["access_token"])


def command_calls(app) -> dict[str, int]:
    """Calls per Redis command so far (commands a Lua script runs are counted too)."""
    with app.app_context():
        stats = get_redis().info("commandstats")
    return {name.removeprefix("cmdstat_"): entry["calls"] for name, entry in stats.items()}


def test_an_authenticated_request_is_two_round_trips(app, client, headers):
    assert client.get(ME, headers=headers).status_code == 200  # scripts loaded, pools open
    before = command_calls(app)
    assert client.get(ME, headers=headers).status_code == 200
    after = command_calls(app)
    calls = {name: after[name] - before.get(name, 0) for name in after}
    sent = {name: n for name, n in calls.items() if n and name not in ("info", "incrby", "ttl")}
    # The script increments the counter and reads its TTL inside Redis: one round trip.
    assert sent == {"mget": 1, "evalsha": 1}
    assert calls["incrby"] == 1 and calls["ttl"] == 1


def test_the_headers_count_each_request_and_the_window_end(client, headers):
    began = time.time()
    answers = [client.get(ME, headers=headers) for _ in range(LIMIT + 1)]
    assert [a.status_code for a in answers] == [200] * LIMIT + [429]
    remaining = [int(a.headers["X-RateLimit-Remaining"]) for a in answers]
    assert remaining == [LIMIT - n for n in range(1, LIMIT + 1)] + [0]
    assert {a.headers["X-RateLimit-Limit"] for a in answers} == {str(LIMIT)}
    resets = {int(a.headers["X-RateLimit-Reset"]) for a in answers}
    assert len(resets) <= 2  # one window (a second boundary may fall between two answers)
    assert all(began < reset <= began + 61 for reset in resets)
    assert int(answers[-1].headers["Retry-After"]) <= 60


def test_reads_outside_a_request_still_ask_redis(app, client, headers):
    from extensions import limiter

    client.get(ME, headers=headers)
    with app.app_context():
        storage = limiter.storage
        keys = get_redis().keys("LIMITS*")
        assert len(keys) == 1
        key = keys[0].decode().removeprefix(f"{storage.key_prefix}:")
        assert storage.get(key) == 1
        assert time.time() < storage.get_expiry(key) <= time.time() + 60
