"""/metrics behind METRICS_TOKEN: in production only `Authorization: Bearer <token>` reads it, and
anything else (no setting, no token, a wrong one) is the 404 of an unknown route; elsewhere it is
open unless a token is set."""

from __future__ import annotations

import pytest

from app import create_app
from config import ConfigError, load_config

TOKEN = "m" * 40
PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": "s" * 40,
    "JWT_SECRET_KEY": "j" * 40,
    # Never contacted: /metrics touches neither.
    "MONGO_URI": "mongodb://127.0.0.1:9/app",
    "REDIS_URL": "redis://127.0.0.1:9/0",
    "SMTP_URL": "smtps://127.0.0.1:9",
    "PUBLIC_URL": "https://app.example.com",
    "RATELIMIT_ENABLED": False,
}
WRONG = ["", "Bearer", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", TOKEN, f"Basic {TOKEN}"]


def metrics_client(**settings):
    return create_app({**settings, "PROMETHEUS_ENABLED": True}).test_client()


def scrape(client, authorization: str | None = None):
    headers = {"Authorization": authorization} if authorization is not None else {}
    return client.get("/metrics", headers=headers)


def assert_not_found(response) -> None:
    assert response.status_code == 404
    assert response.get_json() == {"error": {"code": "not_found", "message": "Not found."}}


def test_development_and_tests_are_open_without_a_token(app_config):
    response = scrape(metrics_client(**app_config))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")


def test_production_without_a_token_setting_is_closed():
    client = metrics_client(**PRODUCTION)
    assert_not_found(scrape(client))
    assert_not_found(scrape(client, "Bearer anything"))


def test_production_with_the_token_answers_the_scrape():
    response = scrape(metrics_client(**PRODUCTION, METRICS_TOKEN=TOKEN), f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert "flask_http_request_duration_seconds" in response.text


@pytest.mark.parametrize("authorization", [None, *WRONG])
def test_production_refuses_a_missing_or_wrong_token(authorization):
    client = metrics_client(**PRODUCTION, METRICS_TOKEN=TOKEN)
    assert_not_found(scrape(client, authorization))


def test_a_token_set_outside_production_is_required_too(app_config):
    client = metrics_client(**app_config, METRICS_TOKEN=TOKEN)
    assert_not_found(scrape(client))
    assert scrape(client, f"Bearer {TOKEN}").status_code == 200


def test_production_refuses_a_short_token():
    with pytest.raises(ConfigError, match="METRICS_TOKEN is shorter"):
        load_config({**PRODUCTION, "METRICS_TOKEN": "short"})
