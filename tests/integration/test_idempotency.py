"""Idempotency records on a real redis-server: one claim among concurrent requests (SET NX GET),
the compare-and-set scripts, the TTLs, and a crashed request's marker expiring by itself."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import stores.idempotency as records
from extensions import get_redis

SCOPE = ("user:0123456789abcdef01234567", "POST", "/api/v1/todos")
BODY_HASH = records.request_hash({"title": "Buy milk"})
CONCURRENT = 20


def begin_all_at_once(app, count: int) -> list[object]:
    """`count` threads call `begin` with one key, released together; each returns the claim,
    the stored response or the exception it raised."""
    barrier = threading.Barrier(count)

    def one(_):
        with app.app_context():
            barrier.wait(timeout=10)
            try:
                return records.begin(SCOPE, "k", BODY_HASH)
            except records.InProgress as error:
                return error

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def test_of_concurrent_requests_with_one_key_exactly_one_runs(app):
    outcomes = begin_all_at_once(app, CONCURRENT)
    claims = [outcome for outcome in outcomes if isinstance(outcome, records.Claim)]
    assert len(claims) == 1
    assert all(isinstance(o, records.InProgress) for o in outcomes if o is not claims[0])
    with app.app_context():
        # The one marker in Redis is the claimant's: no later request overwrote it.
        stored = get_redis().get(claims[0].key)
        assert stored == claims[0].marker.encode()
        marker = json.loads(stored)
        assert marker["state"] == records.RUNNING and marker["request"] == BODY_HASH
        assert 0 < get_redis().ttl(claims[0].key) <= records.MARKER_TTL


def test_the_response_replaces_the_marker_for_a_day(app):
    response = records.StoredResponse(201, {"id": "1"}, {"Location": "/api/v1/todos/1"})
    with app.app_context():
        claim = records.begin(SCOPE, "k", BODY_HASH)
        assert records.finish(claim, response) is True
        assert records.MARKER_TTL < get_redis().ttl(claim.key) <= records.RESPONSE_TTL
        assert records.begin(SCOPE, "k", BODY_HASH) == response
        with pytest.raises(records.KeyReused):
            records.begin(SCOPE, "k", records.request_hash({"title": "other"}))
    outcomes = begin_all_at_once(app, CONCURRENT)
    assert outcomes == [response] * CONCURRENT


def test_only_the_holder_of_the_marker_can_store_or_free_it(app):
    with app.app_context():
        late = records.begin(SCOPE, "k", BODY_HASH)
        get_redis().delete(late.key)
        current = records.begin(SCOPE, "k", BODY_HASH)
        assert records.finish(late, records.StoredResponse(201, {}, {})) is False
        records.abandon(late)
        assert json.loads(get_redis().get(current.key))["state"] == records.RUNNING
        records.abandon(current)
        assert get_redis().exists(current.key) == 0


def test_a_crashed_requests_marker_expires_and_the_key_runs_again(app, monkeypatch):
    monkeypatch.setattr(records, "MARKER_TTL", 1)
    with app.app_context():
        crashed = records.begin(SCOPE, "k", BODY_HASH)  # never finished nor abandoned
        with pytest.raises(records.InProgress):
            records.begin(SCOPE, "k", BODY_HASH)
        deadline = time.monotonic() + 10
        while get_redis().exists(crashed.key) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert isinstance(records.begin(SCOPE, "k", BODY_HASH), records.Claim)
