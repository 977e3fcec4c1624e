"""Proof stage "two instances" (issue 14): two uwsgi masters on different ports, as two dynos
behind Heroku's router, on the same MongoDB database, Redis db and secrets. A logout on one is
refused at once on the other; rate-limit budgets and login throttles are one budget; a template
written through one is never served stale by the other; an idempotent retry sent to the other
instance replays the first response; and the load mix spread over both loses nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests

from tests.e2e.helpers import create_api_key, login, register
from tests.e2e.load_mix import Mix, all_problems
from tests.servers import LiveServer
from tests.support import LOGIN, LOGOUT, ME, REFRESH, TEMPLATES, TODOS, bearer

pytestmark = pytest.mark.proof

Twins = tuple[LiveServer, LiveServer]
API_LIMIT = 12
LOGIN_PAIR_LIMIT = 4
ROUNDS = 12


def start_twins(factory, **env: object) -> Iterator[Twins]:
    """Two instances with the same settings, stopped afterwards."""
    one = factory.start(**env)
    other = factory.start_twin(one)
    yield one, other
    factory.stop(other)
    factory.stop(one)


@pytest.fixture(scope="module")
def twins(live_server_factory) -> Iterator[Twins]:
    yield from start_twins(live_server_factory)


@pytest.fixture(scope="module")
def limited_twins(live_server_factory) -> Iterator[Twins]:
    """Rate limits on, behind one trusted proxy: each test's client has an address of its own."""
    yield from start_twins(
        live_server_factory,
        RATELIMIT_ENABLED=True,
        DEFAULT_RATE_LIMIT=API_LIMIT,
        LOGIN_RATE_LIMIT=LOGIN_PAIR_LIMIT,
        TRUSTED_PROXY_HOPS=1,
    )


def from_address() -> dict[str, str]:
    """A client address of its own, as the trusted proxy reports it (only a header: every
    request goes to 127.0.0.1)."""
    return {"X-Forwarded-For": f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"}


def test_a_logout_on_one_is_refused_at_once_on_the_other(twins, http):
    one, other = twins
    account = register(http, one)
    pair = login(http, one, account)
    assert http.get(other.url + ME, headers=bearer(pair["access_token"])).status_code == 200

    assert http.post(one.url + LOGOUT, headers=bearer(pair["access_token"])).status_code == 204

    for server in (other, other, one):
        refused = http.get(server.url + ME, headers=bearer(pair["access_token"]))
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "token_revoked"
    refreshed = http.post(other.url + REFRESH, headers=bearer(pair["refresh_token"]))
    assert refreshed.status_code == 401
    assert refreshed.json()["error"]["code"] == "token_revoked"


def test_rate_limit_budgets_are_one_budget_over_both(limited_twins, http):
    one, other = limited_twins
    address = from_address()
    account = register(http, one)
    token = login(http, other, account)["access_token"]
    headers = {**bearer(token), **address}

    answers = [
        http.get((one, other)[n % 2].url + ME, headers=headers) for n in range(API_LIMIT + 2)
    ]

    statuses = [answer.status_code for answer in answers]
    assert statuses == [200] * API_LIMIT + [429, 429]
    remaining = [int(answer.headers["X-RateLimit-Remaining"]) for answer in answers[:API_LIMIT]]
    assert remaining == list(range(API_LIMIT - 1, -1, -1))
    assert answers[-1].json()["error"]["code"] == "rate_limited"


def test_login_throttles_are_one_budget_over_both(limited_twins, http):
    one, other = limited_twins
    account = register(http, one)
    address = from_address()

    def attempt(server: LiveServer, password: str) -> requests.Response:
        body = {"username": account["username"], "password": password}
        return http.post(server.url + LOGIN, json=body, headers=address)

    failures = [attempt((one, other)[n % 2], "wrong-password").status_code for n in range(4)]
    assert failures == [401] * LOGIN_PAIR_LIMIT
    # Spent on both together: the right password too is refused, on either instance.
    for server in (one, other):
        refused = attempt(server, account["password"])
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
    # From another address the owner still logs in, through either.
    assert http.post(
        other.url + LOGIN,
        json={"username": account["username"], "password": account["password"]},
        headers=from_address(),
    ).ok


def test_a_template_written_through_one_is_never_stale_on_the_other(twins, http):
    one, other = twins
    headers = {"X-API-KEY": create_api_key(one)}
    created = http.post(one.url + TEMPLATES, json={"name": "shared"}, headers=headers)
    assert created.status_code == 201, created.text
    path = f"{TEMPLATES}/{created.json()['templateid']}"

    for round_ in range(ROUNDS):
        # The other instance has the template cached (both of its workers, as far as they answer).
        for _ in range(2):
            assert http.get(other.url + path, headers=headers).status_code == 200
        writer, reader = (one, other) if round_ % 2 == 0 else (other, one)
        written = http.patch(
            writer.url + path, json={"description": f"round {round_}"}, headers=headers
        )
        assert written.status_code == 200, written.text
        for _ in range(2):
            read = http.get(reader.url + path, headers=headers)
            assert read.status_code == 200
            assert read.headers["ETag"] == written.headers["ETag"]
            assert read.json()["description"] == f"round {round_}"


def test_an_idempotent_retry_on_the_other_instance_replays_the_first(twins, http):
    one, other = twins
    account = register(http, one)
    headers = {**bearer(login(http, one, account)["access_token"]), "Idempotency-Key": "k-1"}
    body = {"title": f"once {uuid.uuid4().hex[:8]}"}

    first = http.post(one.url + TODOS, json=body, headers=headers)
    retry = http.post(other.url + TODOS, json=body, headers=headers)

    assert first.status_code == 201, first.text
    assert retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert retry.headers["Location"] == first.headers["Location"]
    listed = http.get(other.url + f"{TODOS}?q=once", headers=headers).json()["items"]
    assert [todo["id"] for todo in listed] == [first.json()["id"]]


def test_the_load_mix_over_both_instances_loses_nothing(twins, proof_report):
    one, other = twins
    mix = Mix(one, clients=8, base_url=lambda client: (one, other)[client % 2].url)
    mix.setup(directory_users=50)
    mix.run(20)
    calls = mix.ledger.calls
    proof_report(f"two instances: {len(calls)} requests of the mix; {mix.ledger.statuses()}")
    assert not [c.where() for c in calls if c.status is None or c.status >= 500]
    problems = all_problems(mix)
    assert not problems, problems[:20]
