"""Every failure answers in the one error shape, with the contract's status and code."""

from __future__ import annotations

import pymongo.errors
import pytest
import redis.exceptions
from pymongo import _csot

from app import create_app
from db import UNREACHABLE_DEADLINE_SECONDS
from tests.servers import free_port
from tests.unit.conftest import UNIT_CONFIG


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


@pytest.fixture
def crashing_app():
    """An app with routes that fail in the ways a real request can, with propagation off."""
    app = create_app({**UNIT_CONFIG, "PROPAGATE_EXCEPTIONS": False})

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals: mongodb://user:pw@host")

    @app.get("/mongo-down")
    def mongo_down():
        raise pymongo.errors.ServerSelectionTimeoutError("no servers")

    @app.get("/mongo-deadline")
    def mongo_deadline():
        raise pymongo.errors.ExecutionTimeout("operation exceeded time limit", 50)

    @app.get("/redis-down")
    def redis_down():
        raise redis.exceptions.ConnectionError("refused")

    return app


def test_unknown_route_is_404_not_found(client):
    assert_error(client.get("/api/v1/nope"), 404, "not_found")


def test_wrong_method_is_405_with_allow_header(client):
    response = client.delete("/api/v1/auth/login")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_malformed_json_is_400_bad_request(client):
    response = client.post(
        "/api/v1/auth/register", data="{not json", content_type="application/json"
    )
    assert_error(response, 400, "bad_request")


def test_body_without_json_content_type_is_415(client):
    response = client.post("/api/v1/auth/register", data="username=x", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")


def test_body_on_a_bodyless_endpoint_still_needs_json_type(client):
    response = client.post("/api/v1/auth/logout", data="x", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")


def test_body_over_the_limit_is_413():
    app = create_app({**UNIT_CONFIG, "MAX_CONTENT_LENGTH": 1024})
    response = app.test_client().post(
        "/api/v1/auth/register", data="x" * 2048, content_type="application/json"
    )
    assert_error(response, 413, "payload_too_large")


def test_missing_token_is_401_unauthorized(client):
    assert_error(client.get("/api/v1/users/me"), 401, "unauthorized")


def test_garbage_token_is_401_invalid_token_not_422(client):
    response = client.get("/api/v1/users/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert_error(response, 401, "invalid_token")


def test_validation_failure_is_422_with_field_details(client):
    error = assert_error(client.post("/api/v1/auth/register", json={}), 422, "validation_error")
    assert set(error["details"]) == {"username", "email", "password"}


def test_crash_is_500_without_internals(crashing_app):
    response = crashing_app.test_client().get("/boom")
    error = assert_error(response, 500, "internal_error")
    assert "secret" not in response.get_data(as_text=True)
    assert "details" not in error


def test_unreachable_mongodb_is_503_naming_it(crashing_app):
    response = crashing_app.test_client().get("/mongo-down")
    error = assert_error(response, 503, "service_unavailable")
    assert error["details"] == {"unavailable": ["mongodb"]}


def test_a_mongodb_deadline_run_out_on_the_server_is_503_naming_it(crashing_app):
    response = crashing_app.test_client().get("/mongo-deadline")
    error = assert_error(response, 503, "service_unavailable")
    assert error["details"] == {"unavailable": ["mongodb"]}


def test_while_mongodb_is_unreachable_requests_get_a_short_deadline():
    # Found by the fault stage (tests/e2e/test_faults.py): with MongoDB down, each request held
    # its worker for the 3 s server selection, and requests queued behind it answered after 13 s.
    app = create_app({**UNIT_CONFIG, "MONGO_URI": f"mongodb://127.0.0.1:{free_port()}/t"})

    @app.get("/deadline")
    def deadline():
        return {"deadline": _csot.get_timeout()}

    heartbeats, client = app.extensions["mongo_heartbeats"], app.test_client()
    try:
        assert client.get("/deadline").get_json() == {"deadline": None}
        heartbeats.failed(None)
        assert client.get("/deadline").get_json() == {"deadline": UNREACHABLE_DEADLINE_SECONDS}
        heartbeats.succeeded(None)
        assert client.get("/deadline").get_json() == {"deadline": None}
    finally:
        app.extensions["mongo_client"].close()


def test_unreachable_redis_is_503_naming_it(crashing_app):
    response = crashing_app.test_client().get("/redis-down")
    error = assert_error(response, 503, "service_unavailable")
    assert error["details"] == {"unavailable": ["redis"]}


def test_errors_carry_a_request_id(client):
    assert client.get("/nope").headers["X-Request-ID"]
