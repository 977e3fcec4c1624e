"""/metrics: Prometheus text with request counts and latency histograms by endpoint and status,
grouped by endpoint (never by raw path), off with PROMETHEUS_ENABLED=false, never rate limited."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_flask_exporter.multiprocess import MultiprocessPrometheusMetrics

from app import create_app

DURATION = "flask_http_request_duration_seconds"
TODO_PATH = "/api/v1/todos/{}"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PROMETHEUS_ENABLED": True}


def samples(client, name: str) -> list:
    response = client.get("/metrics")
    assert response.status_code == 200
    return [
        sample
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == name
    ]


def request_count(client, endpoint: str, status: str) -> float:
    return sum(
        sample.value
        for sample in samples(client, f"{DURATION}_count")
        if sample.labels["endpoint"] == endpoint and sample.labels["status"] == status
    )


def test_metrics_are_prometheus_text(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert "version=0.0.4" in response.headers["Content-Type"]
    assert f"# TYPE {DURATION} histogram" in response.text


def test_requests_are_counted_by_endpoint_and_status(client):
    for _ in range(3):
        client.get("/health")
    client.get("/api/v1/todos")
    assert request_count(client, "ops.health", "200") == 3
    assert request_count(client, "api.todos", "401") == 1


def test_latency_histogram_has_buckets_per_endpoint(client):
    client.get("/health")
    buckets = [
        sample
        for sample in samples(client, f"{DURATION}_bucket")
        if sample.labels["endpoint"] == "ops.health"
    ]
    assert len(buckets) > 5
    assert {sample.labels["status"] for sample in buckets} == {"200"}
    assert any(sample.labels["le"] == "+Inf" and sample.value == 1 for sample in buckets)


def test_ids_in_paths_share_their_endpoints_series(client):
    ids = ["0123456789abcdef01234567", "76543210fedcba9876543210"]
    for todo_id in ids:
        client.get(TODO_PATH.format(todo_id))
    series = samples(client, f"{DURATION}_count")
    assert request_count(client, "api.todo", "401") == 2
    for sample in series:
        assert not any(todo_id in value for value in sample.labels.values() for todo_id in ids)


def test_unknown_routes_share_one_series(client):
    client.get("/no/such/route")
    client.get("/another/unknown/route")
    assert request_count(client, "unrouted", "404") == 2


def test_metrics_scrapes_are_not_counted(client):
    client.get("/metrics")
    client.get("/metrics")
    assert request_count(client, "prometheus_metrics", "200") == 0


def test_each_app_counts_only_its_own_requests(app_config, client):
    other = create_app(app_config).test_client()
    other.get("/health")
    client.get("/health")
    client.get("/health")
    assert request_count(other, "ops.health", "200") == 1
    assert request_count(client, "ops.health", "200") == 2


def test_prometheus_disabled_means_no_metrics_route(app_config):
    client = create_app({**app_config, "PROMETHEUS_ENABLED": False}).test_client()
    response = client.get("/metrics")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


class TestRateLimits:
    LIMIT = 2

    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "RATELIMIT_ENABLED": True, "DEFAULT_RATE_LIMIT": self.LIMIT}

    def test_metrics_are_never_rate_limited(self, client):
        statuses = [client.get("/metrics").status_code for _ in range(self.LIMIT + 3)]
        assert statuses == [200] * (self.LIMIT + 3)

    def test_scrapes_do_not_use_up_the_clients_budget(self, client):
        for _ in range(self.LIMIT + 3):
            client.get("/metrics")
        statuses = [client.get("/api/v1/todos").status_code for _ in range(self.LIMIT)]
        assert statuses == [401] * self.LIMIT

    def test_refused_requests_are_counted_too(self, client):
        for _ in range(self.LIMIT + 1):
            client.get("/api/v1/todos")
        assert request_count(client, "api.todos", "429") == 1
        assert request_count(client, "api.todos", "401") == self.LIMIT


def test_multiprocess_dir_switches_to_the_multiprocess_exporter(app_config, monkeypatch, tmp_path):
    directory = tmp_path / "prometheus"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    app = create_app(app_config)
    assert isinstance(app.extensions["prometheus_metrics"], MultiprocessPrometheusMetrics)
    assert directory.is_dir()


def test_single_process_exporter_without_multiprocess_dir(app_config, monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    app = create_app(app_config)
    assert not isinstance(app.extensions["prometheus_metrics"], MultiprocessPrometheusMetrics)
