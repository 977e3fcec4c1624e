"""Proof stage "faults" (issue 14): while 16 clients run the load mix (tests/e2e/load_mix.py),
FerretDB is stopped and restarted, then Redis (with its append-only file on, as production must
run it), then one uwsgi worker is killed with SIGKILL.

Clients see 503s in the error shape, never a 500 and never a wait past REQUEST_BOUND; a token
revoked before the Redis outage is refused while Redis is down and after it comes back, and so
is an idempotency record kept; the master replaces the killed worker; the service recovers
without a restart; and afterwards the nothing-lost checks hold for every acknowledged write (a
write whose answer was lost may or may not have happened).

The outages happen on FerretDB and redis-server instances of this module's own, so no other
test ever sees them.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from tests.conftest import start_or_fail
from tests.e2e.conftest import LiveServerFactory
from tests.e2e.helpers import login, register, wait_for
from tests.e2e.load_mix import Call, Mix, all_problems
from tests.servers import (
    FerretDBServer,
    LiveServer,
    RedisServer,
    ferretdb_cache_path,
    require_binary,
)
from tests.support import LOGOUT, ME, TODOS, bearer

pytestmark = pytest.mark.proof

CLIENTS = 16
# The longest a client may wait for any answer, outages included: the contract's "503 within
# 10 s", as the client sees it, queueing for one of the 2 synchronous workers included. (Before
# db.short_deadline_while_unreachable, 16 clients waited up to 13 s through a 12 s outage; with
# it the slowest are the requests caught in the 3 s server selection as FerretDB went away, and
# those queued behind them: 7 s measured, 9.9 s with the 2 cores shared by four test runs.)
REQUEST_BOUND = 10.0
# Longer than the 3 s a request waits for MongoDB server selection, several times over.
FERRETDB_OUTAGE_SECONDS = 12.0
REDIS_OUTAGE_SECONDS = 4.0
# The contract: the app recovers within 10 s of a dependency's return, without a restart.
RECOVERY_BOUND = 10.0
# Clients step until the faults are over and this many more calls were acknowledged.
CALLS_BETWEEN_FAULTS = 120
MAX_STEPS = 400


@pytest.fixture(scope="module")
def dedicated_factory(
    uwsgi_bin: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServerFactory]:
    """App servers on a FerretDB and a redis-server (append-only file on) of their own."""
    ferretdb = FerretDBServer(
        require_binary("FERRETDB_BIN", ferretdb_cache_path(), "ferretdb"),
        tmp_path_factory.mktemp("faults-ferretdb"),
    )
    redis = RedisServer(
        require_binary("REDIS_SERVER_BIN", "redis-server"),
        tmp_path_factory.mktemp("faults-redis"),
        appendonly=True,
    )
    start_or_fail(ferretdb)
    start_or_fail(redis)
    factory = LiveServerFactory(uwsgi_bin, ferretdb, redis, tmp_path_factory)
    yield factory
    factory.stop_all()
    redis.stop()
    ferretdb.stop()


def ready(server: LiveServer) -> bool:
    try:
        return requests.get(f"{server.url}/ready", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def acknowledged_since(mix: Mix, start: float) -> int:
    return sum(1 for call in mix.ledger.calls if call.sent > start and call.acknowledged)


def wait_for_traffic(mix: Mix, start: float, runner: threading.Thread) -> None:
    """Until the clients had CALLS_BETWEEN_FAULTS calls acknowledged after `start`."""
    assert wait_for(
        lambda: acknowledged_since(mix, start) >= CALLS_BETWEEN_FAULTS or not runner.is_alive(),
        within=90,
    ), mix.ledger.statuses()
    assert runner.is_alive(), "the clients stopped before the faults were over"


def test_faults_mid_traffic_lose_nothing(dedicated_factory, http, proof_report):
    server = dedicated_factory.start()
    ferretdb, redis = dedicated_factory.mongo_server, dedicated_factory.redis_server
    mix = Mix(server, clients=CLIENTS, timeout=REQUEST_BOUND)
    mix.setup()
    # Before any outage, by an account outside the mix: a logged-out login, and a todo created
    # with an Idempotency-Key.
    account = register(http, server)
    revoked = bearer(login(http, server, account)["access_token"])
    assert http.post(server.url + LOGOUT, headers=revoked).status_code == 204
    keyed = {
        **bearer(login(http, server, account)["access_token"]),
        "Idempotency-Key": str(uuid.uuid4()),
    }
    first = http.post(server.url + TODOS, json={"title": "kept key"}, headers=keyed)
    assert first.status_code == 201, first.text

    stop = threading.Event()
    runner = threading.Thread(target=mix.run_until, args=(stop, MAX_STEPS))
    runner.start()
    faults: dict[str, float] = {}
    try:
        wait_for_traffic(mix, time.monotonic(), runner)

        faults["ferretdb down"] = time.monotonic()
        ferretdb.stop()
        time.sleep(FERRETDB_OUTAGE_SECONDS)
        ferretdb.start()
        faults["ferretdb back"] = time.monotonic()
        assert wait_for(lambda: ready(server), RECOVERY_BOUND), "not ready after FerretDB"
        wait_for_traffic(mix, time.monotonic(), runner)

        faults["redis down"] = time.monotonic()
        redis.stop()
        while_down = [http.get(server.url + ME, headers=revoked) for _ in range(3)]
        time.sleep(REDIS_OUTAGE_SECONDS)
        redis.start()
        faults["redis back"] = time.monotonic()
        assert wait_for(lambda: ready(server), RECOVERY_BOUND), "not ready after Redis"
        # Kept by the append-only file: the revocation and the idempotency record.
        after_redis = http.get(server.url + ME, headers=revoked)
        replay = http.post(server.url + TODOS, json={"title": "kept key"}, headers=keyed)
        wait_for_traffic(mix, time.monotonic(), runner)

        killed = server.live_worker_pids()[0]
        faults["worker killed"] = time.monotonic()
        os.kill(killed, signal.SIGKILL)
        assert wait_for(
            lambda: len(server.live_worker_pids()) == 2 and killed not in server.live_worker_pids(),
            within=RECOVERY_BOUND,
        ), server.log_tail()
        faults["worker replaced"] = time.monotonic()
        wait_for_traffic(mix, time.monotonic(), runner)
    finally:
        stop.set()
        runner.join(timeout=120)

    calls = mix.ledger.calls
    slowest = max(calls, key=lambda c: c.seconds)
    proof_report(
        f"faults: {len(calls)} requests by {CLIENTS} clients through FerretDB down "
        f"{faults['ferretdb back'] - faults['ferretdb down']:.1f} s, Redis down "
        f"{faults['redis back'] - faults['redis down']:.1f} s, a worker SIGKILLed (replaced in "
        f"{faults['worker replaced'] - faults['worker killed']:.1f} s); statuses "
        f"{mix.ledger.statuses()}; slowest answer {slowest.seconds:.1f} s"
    )

    assert [r.status_code for r in while_down] == [503] * 3, [r.text for r in while_down]
    assert all(r.json()["error"]["code"] == "service_unavailable" for r in while_down)
    assert after_redis.status_code == 401, after_redis.text
    assert after_redis.json()["error"]["code"] == "token_revoked"
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]

    assert not [c.where() for c in calls if c.status == 500]
    assert not [c.where() for c in calls if c.status and c.status > 503]
    unanswered = [c for c in calls if c.status is None]
    # Only a request the killed worker was serving may go unanswered (its connection dies).
    assert not [c.where() for c in unanswered if not in_flight_at(c, faults["worker killed"])]
    assert slowest.seconds < REQUEST_BOUND, slowest.where()
    problems = all_problems(mix)
    assert not problems, problems[:20]
    # Recovered: after the last fault the clients' requests succeed again.
    tail = [c for c in calls if c.sent > faults["worker replaced"] + 1]
    assert tail and not [c.where() for c in tail if c.uncertain]


def in_flight_at(call: Call, moment: float) -> bool:
    return call.sent <= moment <= call.received
