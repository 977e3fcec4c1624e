"""Integration fixtures: the app built by create_app() against real FerretDB and redis-server.

Every test under tests/integration is marked `integration`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pymongo
import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Conftest hooks see the whole session's items: mark only the ones in this folder.
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def app_config(mongo_uri: str, redis_url: str) -> dict[str, object]:
    """The settings `app` is built with; override this fixture to change them for a module."""
    return {
        "APP_ENV": "testing",
        "MONGO_URI": mongo_uri,
        "REDIS_URL": redis_url,
        "SECRET_KEY": secrets.token_hex(32),
        "JWT_SECRET_KEY": secrets.token_hex(32),
        "RATELIMIT_ENABLED": False,
        # prometheus_flask_exporter registers its metrics in the process-wide registry: a
        # second app per process would collide. The e2e tests cover /metrics under uwsgi.
        "PROMETHEUS_ENABLED": False,
    }


@pytest.fixture
def app(app_config: dict[str, object]) -> Iterator[Flask]:
    """The app on a fresh MongoDB database (indexes created) and an emptied Redis db."""
    # Imported lazily, so tests in this folder that need only the servers run without the app.
    from app import create_app
    from db import ensure_indexes, get_db

    app = create_app(app_config)
    with app.app_context():
        ensure_indexes(get_db())
    yield app
    close_clients(app)


def close_clients(app: Flask) -> None:
    """Close the app's real MongoDB and Redis clients: an unclosed MongoClient warns when it is
    garbage-collected, which `filterwarnings = error` turns into a failure in a later test."""
    for extension in app.extensions.values():
        if isinstance(extension, pymongo.MongoClient | redis.Redis):
            extension.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
