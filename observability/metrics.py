"""Prometheus metrics at `/metrics`: request counts and latency histograms by endpoint and status.

`flask_http_request_duration_seconds` is a histogram labelled `method`, `endpoint` (the Flask
endpoint, e.g. `api.todo`, never the raw path: ids in paths would make a series per object) and
`status`; its `_count` series is the request count by endpoint and status. The exporter's
`flask_http_request_total` counts by method and status.

Under uwsgi every worker is a separate process with its own counters. When
`PROMETHEUS_MULTIPROC_DIR` is set (uwsgi.ini sets it), prometheus_client keeps every process's
values in files there and `/metrics` adds them up, so any worker answers for all of them. The
variable is prometheus_client's own switch, read when it is first imported, which is why it is
read from the environment here rather than from the app's config. Without it (`flask run`,
tests) each app gets a plain registry of its own.
"""

from __future__ import annotations

import os

from flask import Flask, Request
from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_flask_exporter import PrometheusMetrics
from prometheus_flask_exporter.multiprocess import MultiprocessInternalPrometheusMetrics

from extensions import limiter

METRICS_PATH = "/metrics"
MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def endpoint(request: Request) -> str:
    """The `endpoint` label: the route's name; unknown routes and wrong methods share one."""
    return request.endpoint or "unrouted"


def init_app(app: Flask) -> PrometheusMetrics | None:
    """Count and time every request and serve `/metrics`, unless PROMETHEUS_ENABLED is false."""
    if not app.config["PROMETHEUS_ENABLED"]:
        return None
    multiproc_dir = os.environ.get(MULTIPROC_DIR_VARIABLE)
    if multiproc_dir:
        # uwsgi.ini creates and empties it at start; this only spares a manual setup a crash.
        os.makedirs(multiproc_dir, exist_ok=True)
        metrics: PrometheusMetrics = MultiprocessInternalPrometheusMetrics(
            app, path=METRICS_PATH, group_by=endpoint
        )
    else:
        # A registry per app, not prometheus_client's global one: tests build many apps in one
        # process, and each must count only its own requests.
        registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        metrics = PrometheusMetrics(app, path=METRICS_PATH, registry=registry, group_by=endpoint)
    # Scrapes must never be refused for a client's rate limit (nor count against one).
    limiter.exempt(app.view_functions["prometheus_metrics"])
    app.extensions["prometheus_metrics"] = metrics
    return metrics
