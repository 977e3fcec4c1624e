"""Fixtures shared by every test layer: the real FerretDB and redis-server processes.

The servers are started once per test session, on free ports, with their files in pytest's
temporary directory. Their binaries come from FERRETDB_BIN / REDIS_SERVER_BIN (set by
`make test`); without them the tests that need a server are skipped with install instructions,
or fail when CI=true.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.servers import (
    FerretDBServer,
    RedisServer,
    ServerStartError,
    SmtpServer,
    ferretdb_cache_path,
    require_binary,
)


def start_or_fail(server: FerretDBServer | RedisServer) -> None:
    try:
        server.start()
    except ServerStartError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def ferretdb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FerretDBServer]:
    """FerretDB (SQLite backend): `.uri`, `.port`, `.uri_for(db)`, `.client()`, `.stop()`,
    `.start()` (same port, same data), `.restart()`, `.running`, `.log_text()`."""
    binary = require_binary("FERRETDB_BIN", ferretdb_cache_path(), "ferretdb")
    server = FerretDBServer(binary, tmp_path_factory.mktemp("ferretdb"))
    start_or_fail(server)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mongo_server(ferretdb_server: FerretDBServer) -> FerretDBServer:
    """The MongoDB the tests run against (FerretDB); same object as `ferretdb_server`."""
    return ferretdb_server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """redis-server without persistence: `.url` (db 0), `.url_for(db)`, `.port`, `.client()`,
    `.stop()`, `.start()` (same port), `.restart()`, `.running`, `.log_text()`."""
    binary = require_binary("REDIS_SERVER_BIN", "redis-server")
    server = RedisServer(binary, tmp_path_factory.mktemp("redis"))
    start_or_fail(server)
    yield server
    server.stop()


@pytest.fixture
def mongo_uri(mongo_server: FerretDBServer) -> Iterator[str]:
    """A MongoDB URI naming a fresh database for this test, dropped afterwards.

    FerretDB's SQLite backend scans whole collections, so small per-test databases keep the
    tests fast as well as independent.
    """
    mongo_server.ensure_running()
    database = f"t_{uuid.uuid4().hex[:12]}"
    yield mongo_server.uri_for(database)
    mongo_server.ensure_running()  # a test that stopped the server must not break the next one
    with mongo_server.client() as client:
        client.drop_database(database)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The URL of Redis db 0, emptied after the test."""
    redis_server.ensure_running()
    yield redis_server.url
    redis_server.ensure_running()
    with redis_server.client() as client:
        client.flushdb()


class FrozenClock:
    """What `core.clock.utcnow()` answers while the `clock` fixture is active: `set(when)`."""

    def __init__(self, real: Callable[[], datetime]) -> None:
        self.real = real
        self.now: datetime | None = None

    def set(self, when: datetime) -> None:
        self.now = when

    def __call__(self) -> datetime:
        return self.now if self.now is not None else self.real()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    """The app's clock (core.clock.utcnow), real until a test calls `clock.set(when)`."""
    from core import clock as app_clock

    frozen = FrozenClock(app_clock.utcnow)
    monkeypatch.setattr(app_clock, "utcnow", frozen)
    return frozen


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) that keeps every message it is sent: `.url` for SMTP_URL,
    `.wait_for_message(to)`, `.messages_to(to)`, `.messages`."""
    server = SmtpServer(tmp_path)
    server.start()
    yield server
    server.stop()
