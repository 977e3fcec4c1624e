"""The API-wide rate limit: DEFAULT_RATE_LIMIT requests per minute per identity (user, API key,
else IP) over every /api/v1 endpoint together, its headers, its 429, and its window."""

from __future__ import annotations

import time
import uuid

import pytest
from bson import ObjectId

from app import create_app
from services.api_keys import create_api_key
from tests.support import TEMPLATES

LIMIT = 3
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
# Exempt on purpose (openapi.py): the API's static description, like /health and /docs.
EXEMPT = {"/api/v1/openapi.json"}


@pytest.fixture
def app_config(app_config):
    return {**app_config, "RATELIMIT_ENABLED": True, "DEFAULT_RATE_LIMIT": LIMIT}


@pytest.fixture
def headers(user, auth_headers):
    return auth_headers(user)


@pytest.fixture
def key_headers(app):
    with app.app_context():
        return {"X-API-KEY": create_api_key("ci-bot")[1]}


def spend(client, count: int, **kwargs) -> list[int]:
    return [client.get(TEMPLATES, **kwargs).status_code for _ in range(count)]


def test_the_limit_is_reached_at_the_configured_number(client, headers):
    assert spend(client, LIMIT, headers=headers) == [200] * LIMIT
    assert client.get(TEMPLATES, headers=headers).status_code == 429


def test_the_limit_is_one_budget_across_all_endpoints(client, headers):
    client.get(TEMPLATES, headers=headers)
    client.get("/api/v1/users/me", headers=headers)
    client.post(TEMPLATES, json={"name": "x"}, headers=headers)
    assert client.get("/api/v1/todos", headers=headers).status_code == 429


def test_a_refusal_is_429_in_the_error_shape_with_every_header(client, headers):
    spend(client, LIMIT, headers=headers)
    response = client.get(TEMPLATES, headers=headers)
    assert response.status_code == 429
    assert response.get_json() == {
        "error": {"code": "rate_limited", "message": "Too many requests; slow down."}
    }
    assert response.headers["X-RateLimit-Limit"] == str(LIMIT)
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert int(response.headers["X-RateLimit-Reset"]) > time.time()


def test_successful_responses_carry_the_counters_but_no_retry_after(client, headers):
    response = client.get(TEMPLATES, headers=headers)
    assert response.status_code == 200
    assert [response.headers.get(name) for name in RATE_HEADERS[:2]] == [str(LIMIT), "2"]
    assert int(response.headers["X-RateLimit-Reset"]) > time.time()
    assert "Retry-After" not in response.headers


def test_retry_after_and_reset_point_at_the_end_of_the_window(client, headers, limiter_clock):
    spend(client, LIMIT, headers=headers)
    limiter_clock.now += 20
    response = client.get(TEMPLATES, headers=headers)
    assert response.status_code == 429
    retry_after = int(response.headers["Retry-After"])
    assert 38 <= retry_after <= 40
    assert abs(int(response.headers["X-RateLimit-Reset"]) - (limiter_clock.now + retry_after)) <= 1


def test_the_limit_recovers_after_the_window(client, headers, limiter_clock):
    spend(client, LIMIT, headers=headers)
    assert client.get(TEMPLATES, headers=headers).status_code == 429
    limiter_clock.now += 59
    assert client.get(TEMPLATES, headers=headers).status_code == 429
    limiter_clock.now += 2
    response = client.get(TEMPLATES, headers=headers)
    assert response.status_code == 200
    assert response.headers["X-RateLimit-Remaining"] == str(LIMIT - 1)


def test_each_user_has_a_budget_of_their_own(client, make_user, auth_headers, headers):
    spend(client, LIMIT + 1, headers=headers)
    other = auth_headers(make_user("other")[0])
    assert client.get(TEMPLATES, headers=other).status_code == 200


def test_an_api_key_has_a_budget_of_its_own(client, key_headers):
    assert spend(client, LIMIT + 1, headers=key_headers)[-1] == 429
    # The same IP without the key still has its own budget (it answers 401, not 429).
    assert client.get(TEMPLATES).status_code == 401


def test_made_up_api_keys_all_count_against_the_ip(client):
    codes = [
        client.get(TEMPLATES, headers={"X-API-KEY": f"tk_{i:08x}_{'A' * 43}"}).status_code
        for i in range(LIMIT + 1)
    ]
    assert codes == [401] * LIMIT + [429]


def test_failed_requests_count_too(client):
    assert spend(client, LIMIT) == [401] * LIMIT
    assert client.get(TEMPLATES).status_code == 429


def test_unknown_routes_count_too(client):
    for _ in range(LIMIT):
        assert client.get("/api/v1/nowhere").status_code == 404
    assert client.get("/api/v1/nowhere").status_code == 429


def test_unsupported_media_type_counts_too(client):
    for _ in range(LIMIT):
        response = client.post(TEMPLATES, data="x", content_type="text/plain")
        assert response.status_code == 415
    assert client.post(TEMPLATES, data="x", content_type="text/plain").status_code == 429


def test_cors_preflights_never_spend_the_budget(client, headers):
    for _ in range(LIMIT + 2):
        preflight = client.options(
            TEMPLATES,
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 204
    assert client.get(TEMPLATES, headers=headers).status_code == 200


def test_health_and_readiness_are_never_limited(client):
    spend(client, LIMIT + 1)
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == 200


def sample_url(rule) -> str:
    values = {}
    for name, converter in rule._converters.items():
        kind = type(converter).__name__
        values[name] = (
            str(uuid.uuid4())
            if kind == "UUID4Converter"
            else str(ObjectId())
            if kind == "ObjectIdConverter"
            else "x"
        )
    return rule.build(values, append_unknown=False)[1]


@pytest.fixture
def strict_app(app_config):
    """An app allowing one request a minute."""
    return create_app({**app_config, "DEFAULT_RATE_LIMIT": 1})


def test_every_api_endpoint_and_method_is_limited(strict_app):
    client = strict_app.test_client()
    client.get(TEMPLATES)  # spends the whole budget
    rules = [
        rule
        for rule in strict_app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1") and rule.rule not in EXEMPT
    ]
    assert {"api.templates", "api.template"} <= {rule.endpoint for rule in rules}
    checked = []
    for rule in rules:
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(sample_url(rule), method=method, json={})
            assert response.status_code == 429, (rule.rule, method, response.status_code)
            assert response.get_json()["error"]["code"] == "rate_limited"
            checked.append((rule.rule, method))
    assert len(checked) >= 10


def test_rate_limit_disabled_never_refuses(app_config):
    app = create_app({**app_config, "RATELIMIT_ENABLED": False, "DEFAULT_RATE_LIMIT": 1})
    client = app.test_client()
    codes = {client.get("/api/v1/nowhere").status_code for _ in range(5)}
    assert codes == {404}
    assert "X-RateLimit-Limit" not in client.get("/api/v1/nowhere").headers
