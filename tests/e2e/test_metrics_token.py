"""/metrics of a production server under uwsgi (2 workers) with METRICS_TOKEN: a scrape with the
token adds up both workers' requests; without it, or with a wrong one, it is a 404 in the error
shape, like an unknown route."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.helpers import in_parallel
from tests.servers import LiveServer

TOKEN = secrets.token_urlsafe(32)
PATH = "/api/v1/users/me"
ROUND = 24
MAX_ROUNDS = 10


@pytest.fixture(scope="module")
def production_server(live_server_factory) -> Iterator[LiveServer]:
    server = live_server_factory.start(
        APP_ENV="production",
        METRICS_TOKEN=TOKEN,
        # Never contacted: production only refuses to start without them.
        SMTP_URL="smtp://127.0.0.1:9",
        PUBLIC_URL="https://api.example.com",
    )
    yield server
    live_server_factory.stop(server)


def scrape(server: LiveServer, authorization: str | None) -> requests.Response:
    headers = {"Authorization": authorization} if authorization else {}
    return requests.get(f"{server.url}/metrics", headers=headers, timeout=15)


def unauthenticated_me_requests(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "flask_http_request_duration_seconds_count"
        and sample.labels.get("endpoint") == "api.me"
        and sample.labels.get("status") == "401"
    )


def workers_that_served(server: LiveServer) -> set[int]:
    return {
        entry["pid"]
        for line in server.log_text().splitlines()
        if line.startswith("{") and (entry := json.loads(line)).get("path") == PATH
    }


def test_the_token_reads_the_requests_of_both_workers(production_server):
    workers = set(production_server.worker_pids())
    assert len(workers) == 2, production_server.log_tail()
    url = production_server.url + PATH
    sent = 0
    # Until both workers have answered some: a fast 401 is often all taken by one of them.
    for _ in range(MAX_ROUNDS):
        statuses = in_parallel(ROUND, lambda _: requests.get(url, timeout=15).status_code)
        assert statuses == [401] * ROUND
        sent += ROUND
        if workers_that_served(production_server) == workers:
            break
    assert workers_that_served(production_server) == workers
    response = scrape(production_server, f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert unauthenticated_me_requests(response.text) == sent


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", TOKEN, f"Bearer {TOKEN}x"])
def test_anything_else_is_a_404_in_the_error_shape(production_server, authorization):
    response = scrape(production_server, authorization)
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}
    assert response.headers["X-Content-Type-Options"] == "nosniff"
