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

With METRICS_TOKEN set, `/metrics` answers only requests with `Authorization: Bearer <token>`;
in production it is closed without one. A refused scrape gets the same 404 as an unknown route,
so the endpoint does not even admit it exists.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, Request, current_app, request
from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_flask_exporter import PrometheusMetrics
from prometheus_flask_exporter.multiprocess import MultiprocessInternalPrometheusMetrics
from werkzeug.exceptions import NotFound

from extensions import limiter

METRICS_PATH = "/metrics"
MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def endpoint(request: Request) -> str:
    """The `endpoint` label: the route's name; unknown routes and wrong methods share one."""
    return request.endpoint or "unrouted"


def scrape_allowed() -> bool:
    """Whether this request may read the metrics: it carries METRICS_TOKEN as a Bearer token, or
    no token is configured outside production."""
    token = current_app.config["METRICS_TOKEN"]
    if not token:
        return current_app.config["APP_ENV"] != "production"
    sent = request.headers.get("Authorization", "").encode()
    # Constant time: how long the comparison takes says nothing about how much of it matched.
    return hmac.compare_digest(sent, f"Bearer {token}".encode())


def require_scrape_token(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not scrape_allowed():
            raise NotFound()
        return view(*args, **kwargs)

    return guarded


def init_app(app: Flask) -> PrometheusMetrics | None:
    """Count and time every request and serve `/metrics`, unless PROMETHEUS_ENABLED is false."""
    if not app.config["PROMETHEUS_ENABLED"]:
        return None
    options = {
        "path": METRICS_PATH,
        "group_by": endpoint,
        "metrics_decorator": require_scrape_token,
    }
    multiproc_dir = os.environ.get(MULTIPROC_DIR_VARIABLE)
    if multiproc_dir:
        # uwsgi.ini creates and empties it at start; this only spares a manual setup a crash.
        os.makedirs(multiproc_dir, exist_ok=True)
        metrics: PrometheusMetrics = MultiprocessInternalPrometheusMetrics(app, **options)
    else:
        # A registry per app, not prometheus_client's global one: tests build many apps in one
        # process, and each must count only its own requests.
        registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        metrics = PrometheusMetrics(app, registry=registry, **options)
    # Scrapes must never be refused for a client's rate limit (nor count against one).
    limiter.exempt(app.view_functions["prometheus_metrics"])
    app.extensions["prometheus_metrics"] = metrics
    return metrics
