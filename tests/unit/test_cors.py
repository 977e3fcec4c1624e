"""CORS: origins listed in CORS_ORIGINS get correct preflight answers and readable responses;
any other origin gets no Access-Control-Allow-* header at all."""

from __future__ import annotations

import pytest

from app import create_app
from tests.support import TODOS

ALLOWED = "https://app.example.com"
ALSO_ALLOWED = "https://admin.example.com"
DISALLOWED = "https://evil.example.net"
TODO = "/api/v1/todos/0123456789abcdef01234567"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "CORS_ORIGINS": f"{ALLOWED}, {ALSO_ALLOWED}"}


def preflight(client, origin: str, method: str = "POST", headers: str = "", path: str = TODOS):
    request_headers = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        request_headers["Access-Control-Request-Headers"] = headers
    return client.options(path, headers=request_headers)


def listed(value: str | None) -> set[str]:
    return {item.strip().lower() for item in (value or "").split(",") if item.strip()}


def cors_headers(response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


def test_preflight_from_allowed_origin_is_answered(client):
    response = preflight(client, ALLOWED, "POST", "Authorization, Content-Type")
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "post" in listed(response.headers["Access-Control-Allow-Methods"])
    assert {"authorization", "content-type"} <= listed(
        response.headers["Access-Control-Allow-Headers"]
    )
    assert "origin" in listed(response.headers["Vary"])


def test_preflight_answers_each_allowed_origin_with_itself(client):
    response = preflight(client, ALSO_ALLOWED)
    assert response.headers["Access-Control-Allow-Origin"] == ALSO_ALLOWED


def test_preflight_allows_api_key_and_conditional_headers(client):
    response = preflight(client, ALLOWED, "PATCH", "X-API-KEY, If-Match", path=TODO)
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "patch" in listed(response.headers["Access-Control-Allow-Methods"])
    assert {"x-api-key", "if-match"} <= listed(response.headers["Access-Control-Allow-Headers"])


def test_preflight_answers_204_with_no_body(client):
    response = preflight(client, ALLOWED, "PATCH", "Authorization, If-Match", path=TODO)
    assert response.status_code == 204
    assert response.data == b""
    assert "Content-Type" not in response.headers
    assert "patch" in listed(response.headers["Access-Control-Allow-Methods"])


def test_preflight_from_disallowed_origin_is_also_bodiless(client):
    response = preflight(client, DISALLOWED, "POST", "Content-Type")
    assert (response.status_code, response.data) == (204, b"")


def test_preflight_allows_the_idempotency_key_header(client):
    response = preflight(client, ALLOWED, "POST", "Authorization, Content-Type, Idempotency-Key")
    assert {"authorization", "content-type", "idempotency-key"} <= listed(
        response.headers["Access-Control-Allow-Headers"]
    )


def test_preflight_to_an_unknown_path_is_a_json_404(client):
    response = preflight(client, ALLOWED, "GET", path="/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", ["/nothing-here", "/static/missing.js", "/index.html", "/api"])
def test_unknown_paths_outside_the_api_are_json_404s(client, path):
    response = client.get(path, headers={"Origin": ALLOWED})
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == "not_found"


def test_preflight_does_not_allow_unlisted_request_headers(client):
    response = preflight(client, ALLOWED, "GET", "Authorization, X-Something-Else")
    allowed = listed(response.headers.get("Access-Control-Allow-Headers"))
    assert "authorization" in allowed
    assert "x-something-else" not in allowed


def test_preflight_from_disallowed_origin_gets_no_cors_headers(client):
    response = preflight(client, DISALLOWED, "POST", "Authorization, Content-Type")
    assert cors_headers(response) == {}


def test_without_configured_origins_no_origin_is_allowed(app_config):
    client = create_app({**app_config, "CORS_ORIGINS": ""}).test_client()
    response = preflight(client, ALLOWED, "POST", "Authorization")
    assert cors_headers(response) == {}


def test_responses_to_allowed_origin_expose_the_api_headers(client):
    response = client.get("/health", headers={"Origin": ALLOWED})
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert {
        "x-request-id",
        "etag",
        "link",
        "location",
        "retry-after",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    } <= listed(response.headers["Access-Control-Expose-Headers"])


def test_responses_expose_the_idempotent_replayed_header(client):
    response = client.get("/health", headers={"Origin": ALLOWED})
    assert "idempotent-replayed" in listed(response.headers["Access-Control-Expose-Headers"])


def test_error_responses_are_readable_by_allowed_origins(client):
    response = client.get(TODOS, headers={"Origin": ALLOWED})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED


def test_responses_to_disallowed_origin_carry_no_cors_headers(client):
    response = client.get("/health", headers={"Origin": DISALLOWED})
    assert response.status_code == 200
    assert cors_headers(response) == {}


def test_credentials_are_never_allowed(client):
    # Tokens travel in headers, never in cookies: no origin may send the browser's cookies.
    response = preflight(client, ALLOWED, "POST", "Authorization")
    assert "Access-Control-Allow-Credentials" not in response.headers
