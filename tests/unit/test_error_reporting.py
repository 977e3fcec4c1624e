"""Sentry: started only when SENTRY_DSN is set, with the Flask integration and no personal data,
and the 500s that errors.py answers itself still reach it."""

from __future__ import annotations

import functools
import json

import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.integrations.flask import FlaskIntegration
from sentry_sdk.transport import Transport

from app import create_app
from observability import error_reporting

DSN = "https://public-key@sentry.example.invalid/1"


@pytest.fixture
def init_calls(monkeypatch) -> list[dict]:
    calls: list[dict] = []
    monkeypatch.setattr(error_reporting.sentry_sdk, "init", lambda **kwargs: calls.append(kwargs))
    return calls


def test_sentry_is_not_started_without_a_dsn(app_config, init_calls):
    create_app({**app_config, "SENTRY_DSN": None})
    assert init_calls == []


def test_sentry_is_started_with_the_dsn_flask_integration_and_environment(app_config, init_calls):
    create_app({**app_config, "SENTRY_DSN": DSN})
    assert len(init_calls) == 1
    options = init_calls[0]
    assert options["dsn"] == DSN
    assert options["environment"] == "testing"
    assert [type(i) for i in options["integrations"]] == [FlaskIntegration]
    # PII stays off: the SDK's default (passing send_default_pii=False is deprecated).
    assert not options.get("send_default_pii")


class CapturingTransport(Transport):
    """Keeps events in memory instead of sending them anywhere."""

    def __init__(self, options=None) -> None:
        super().__init__(options)
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)


@pytest.fixture
def transport(monkeypatch):
    capturing = CapturingTransport()
    real_init = sentry_sdk.init
    monkeypatch.setattr(
        error_reporting.sentry_sdk, "init", functools.partial(real_init, transport=capturing)
    )
    yield capturing
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


@pytest.fixture
def crashing_client(app_config, transport):
    app = create_app({**app_config, "SENTRY_DSN": DSN})

    def crash():
        raise RuntimeError("boom")

    app.add_url_rule("/crash", view_func=crash)
    return app.test_client()


def reported_events(transport: CapturingTransport) -> list[dict]:
    sentry_sdk.flush()
    return [event for envelope in transport.envelopes if (event := envelope.get_event())]


def test_unhandled_errors_are_reported_to_sentry(crashing_client, transport):
    response = crashing_client.get("/crash")
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    exceptions = [
        value["type"]
        for event in reported_events(transport)
        for value in event.get("exception", {}).get("values", [])
    ]
    assert "RuntimeError" in exceptions


def test_reports_carry_no_credentials_or_client_address(crashing_client, transport):
    crashing_client.get(
        "/crash",
        headers={
            "Authorization": "Bearer secret-token-value",
            "X-API-KEY": "secret-api-key-value",
            "Cookie": "session=secret-cookie-value",
            "X-Forwarded-For": "203.0.113.9",
        },
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    events = reported_events(transport)
    assert events
    text = json.dumps(events, default=str)
    for secret in ("secret-token-value", "secret-api-key-value", "secret-cookie-value"):
        assert secret not in text
    assert "198.51.100.7" not in text
    assert "203.0.113.9" not in text
