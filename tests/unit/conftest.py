"""Unit-test fixtures: the app on its in-process stand-ins (mongomock, fakeredis), no servers."""

from __future__ import annotations

import time

import flask_limiter._extension
import limits.storage.memory
import pytest

from app import create_app
from db import ensure_indexes, get_db
from services.passwords import hash_password
from services.tokens import issue_token_pair
from stores.users import build_user_document, insert_user

UNIT_CONFIG = {
    "APP_ENV": "testing",
    "MONGO_URI": None,
    "REDIS_URL": None,
    "SECRET_KEY": "unit-test-secret-key-0123456789abcdef",
    "JWT_SECRET_KEY": "unit-test-jwt-secret-key-0123456789abcdef",
    "RATELIMIT_ENABLED": False,
    "PROMETHEUS_ENABLED": False,
}


@pytest.fixture
def app_config() -> dict:
    """Override in a test module to change settings (e.g. enable rate limits)."""
    return dict(UNIT_CONFIG)


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    with app.app_context():
        ensure_indexes(get_db())
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(app):
    """Factory: insert a user straight into the store and return (document, password)."""
    counter = iter(range(1, 10_000))

    def make(
        username: str | None = None,
        role: str = "user",
        name: str = "",
        password: str = "correct horse 1",
    ):
        n = next(counter)
        username = username or f"user{n}"
        with app.app_context():
            doc = build_user_document(
                username, f"{username}@example.com", hash_password(password), name, role
            )
            return insert_user(doc), password

    return make


@pytest.fixture
def auth_headers(app):
    """Factory: `Authorization` headers with a fresh access token for a user document."""

    def headers_for(user: dict) -> dict[str, str]:
        with app.app_context():
            pair = issue_token_pair(user)
        return {"Authorization": f"Bearer {pair['access_token']}"}

    return headers_for


@pytest.fixture
def add_user(app, auth_headers):
    """Factory: a user inserted without a password hash (no login needed, and hashing is slow)."""

    def add(username: str) -> dict:
        with app.app_context():
            user = insert_user(build_user_document(username, f"{username}@example.com", "-"))
        return {"user": user, "headers": auth_headers(user)}

    return add


@pytest.fixture
def user(make_user):
    return make_user()[0]


@pytest.fixture
def admin(make_user):
    return make_user("admin1", role="admin")[0]


class FakeClock:
    """Stands in for the `time` module of the rate limiter and its in-memory storage."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def __getattr__(self, name: str):
        return getattr(time, name)


@pytest.fixture
def limiter_clock(monkeypatch) -> FakeClock:
    """The rate limiter's clock, moved by hand (`clock.now += 61`) to pass a window."""
    fake = FakeClock()
    monkeypatch.setattr(limits.storage.memory, "time", fake)
    monkeypatch.setattr(flask_limiter._extension, "time", fake)
    return fake
