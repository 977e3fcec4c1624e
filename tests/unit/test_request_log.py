"""Request ids: echoed when the client sends a sane one, generated otherwise, always logged."""

from __future__ import annotations

import json
import logging


def test_request_id_is_generated_when_absent(client):
    first = client.get("/health").headers["X-Request-ID"]
    second = client.get("/health").headers["X-Request-ID"]
    assert len(first) == 32 and first != second


def test_client_request_id_is_echoed(client):
    response = client.get("/health", headers={"X-Request-ID": "abc-123.req"})
    assert response.headers["X-Request-ID"] == "abc-123.req"


def test_unsafe_client_request_id_is_replaced(client):
    response = client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert response.headers["X-Request-ID"] != "bad id\twith spaces"


def test_each_request_is_logged_as_one_json_line(client, caplog):
    caplog.set_level(logging.INFO, logger="api.request")
    client.get("/nope", headers={"X-Request-ID": "trace-me"})
    records = [r for r in caplog.records if r.name == "api.request"]
    assert len(records) == 1
    line = json.loads(logging.getLogger().handlers[0].formatter.format(records[0]))
    assert line["request_id"] == "trace-me"
    assert line["status"] == 404 and line["method"] == "GET" and line["path"] == "/nope"
    assert line["duration_ms"] >= 0
