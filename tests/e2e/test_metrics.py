"""/metrics under uwsgi with two workers: every worker's requests are counted, whichever worker
answers the scrape; each server counts only its own; a restart starts from zero."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.servers import LiveServer

# A cheap endpoint that touches neither MongoDB nor Redis: 401 without a token.
PATH = "/api/v1/users/me"
ENDPOINT = "api.me"
REQUEST_COUNT = "flask_http_request_duration_seconds_count"
ROUND = 24
MAX_ROUNDS = 10
SCRAPES = 6
HISTOGRAM_FILE = re.compile(r"^histogram_(\d+)\.db$")


def get(url: str) -> int:
    return requests.get(url, timeout=15).status_code


def send_concurrently(url: str, count: int) -> None:
    """`count` requests, eight at a time, so that both single-threaded workers take some."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(get, [url] * count))
    assert statuses == [401] * count


def reported_count(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == REQUEST_COUNT and sample.labels.get("endpoint") == ENDPOINT
    )


def scrape(server: LiveServer) -> float:
    response = requests.get(f"{server.url}/metrics", timeout=15)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return reported_count(response.text)


def counted_per_worker(metrics_dir: Path, scratch: Path) -> dict[int, float]:
    """What each worker process recorded for ENDPOINT, read from its own histogram file."""
    counts: dict[int, float] = {}
    for path in metrics_dir.iterdir():
        match = HISTOGRAM_FILE.match(path.name)
        if not match:
            continue
        alone = scratch / match[1]
        alone.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, alone / path.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))
        counts[int(match[1])] = sum(
            sample.value
            for metric in registry.collect()
            for sample in metric.samples
            if sample.name == REQUEST_COUNT and sample.labels.get("endpoint") == ENDPOINT
        )
    return counts


def test_metrics_add_up_the_requests_of_every_worker(
    start_live_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    metrics_dir = tmp_path / "prometheus"
    server = start_live_server(PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    workers = set(server.worker_pids())
    assert len(workers) == 2, server.log_tail()

    sent = 0
    for _ in range(MAX_ROUNDS):
        send_concurrently(server.url + PATH, ROUND)
        sent += ROUND
        per_worker = counted_per_worker(metrics_dir, tmp_path / "scratch")
        if {pid for pid, count in per_worker.items() if count} == workers:
            break
    assert {pid for pid, count in per_worker.items() if count} == workers, per_worker
    assert sum(per_worker.values()) == sent

    with ThreadPoolExecutor(max_workers=SCRAPES) as pool:
        scrapes = list(pool.map(lambda _: scrape(server), range(SCRAPES)))
    assert scrapes == [sent] * SCRAPES


def test_each_server_counts_only_its_own_requests(
    live_server: LiveServer, start_live_server: Callable[..., LiveServer]
) -> None:
    other = start_live_server()
    before = scrape(live_server)
    for _ in range(5):
        assert get(other.url + PATH) == 401
    assert scrape(other) == 5
    assert scrape(live_server) == before


def test_a_restart_starts_counting_from_zero(
    start_live_server: Callable[..., LiveServer],
) -> None:
    server = start_live_server()
    for _ in range(5):
        assert get(server.url + PATH) == 401
    assert scrape(server) == 5
    server.restart()
    assert scrape(server) == 0
