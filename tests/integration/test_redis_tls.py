"""REDIS_TLS_VERIFY against a real TLS-only redis-server whose certificate no public root signs
(as Heroku Data for Redis serves): the app's Redis client, the rate limiter's storage and the
cache refuse it by default and all connect with REDIS_TLS_VERIFY=false."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from flask import Flask
from limits import RateLimitItemPerMinute

from tests.integration.conftest import close_clients
from tests.servers import TlsRedisServer, require_binary


@pytest.fixture(scope="module")
def tls_redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedisServer]:
    binary = require_binary("REDIS_SERVER_BIN", "redis-server")
    server = TlsRedisServer(binary, tmp_path_factory.mktemp("redis-tls"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def make_app(mongo_uri: str, tls_redis_server: TlsRedisServer) -> Iterator[Callable[..., Flask]]:
    """`make_app(**settings)`: the app on the TLS Redis (db 0, emptied afterwards)."""
    apps: list[Flask] = []

    def make(**settings: object) -> Flask:
        from app import create_app

        app = create_app(
            {
                "APP_ENV": "testing",
                "MONGO_URI": mongo_uri,
                "REDIS_URL": tls_redis_server.url_for(0),
                "RATELIMIT_ENABLED": True,
                "PROMETHEUS_ENABLED": False,
                **settings,
            }
        )
        apps.append(app)
        return app

    yield make
    for app in apps:
        close_clients(app)
    with tls_redis_server.client() as client:
        client.flushdb()


def write_with_app_client(app: Flask, marker: str) -> str:
    from extensions import get_redis

    with app.app_context():
        get_redis().set(f"probe:{marker}", "1")
    return f"probe:{marker}"


def write_with_limiter_storage(app: Flask, marker: str) -> str:
    from extensions import limiter

    with app.app_context():
        limiter.limiter.hit(RateLimitItemPerMinute(5), marker)
    return f"*{marker}*"


def write_with_cache(app: Flask, marker: str) -> str:
    from extensions import cache

    with app.app_context():
        cache.set(marker, "cached")
        assert cache.get(marker) == "cached"
    return f"cache:{marker}"


WRITERS = [write_with_app_client, write_with_limiter_storage, write_with_cache]


@pytest.mark.parametrize("write", WRITERS)
def test_redis_clients_verify_the_certificate_by_default(make_app, write):
    app = make_app()
    with pytest.raises(redis.exceptions.ConnectionError, match="certificate verify failed"):
        write(app, uuid.uuid4().hex)


@pytest.mark.parametrize("write", WRITERS)
def test_redis_clients_connect_without_verification_when_told(make_app, tls_redis_server, write):
    app = make_app(REDIS_TLS_VERIFY="false")
    pattern = write(app, uuid.uuid4().hex)
    with tls_redis_server.client() as client:
        assert client.keys(pattern)


def test_rate_limited_request_is_counted_in_the_tls_redis(make_app, tls_redis_server):
    app = make_app(REDIS_TLS_VERIFY="false", DEFAULT_RATE_LIMIT=7)
    response = app.test_client().get("/api/v1/users/me")
    assert response.status_code == 401
    assert response.headers["X-RateLimit-Remaining"] == "6"
    with tls_redis_server.client() as client:
        assert client.keys("*ratelimit*")


def test_the_server_accepts_tls_only(tls_redis_server):
    plain = redis.Redis(host="127.0.0.1", port=tls_redis_server.port, socket_timeout=2)
    with plain, pytest.raises(redis.exceptions.ConnectionError):
        plain.ping()
