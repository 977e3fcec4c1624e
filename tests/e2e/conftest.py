"""End-to-end fixtures: the real app under uwsgi (2 workers), reached over HTTP.

`live_server` is shared by the tests of a module; `start_live_server(**env)` starts a fresh one
with other settings (e.g. RATELIMIT_ENABLED="true") and stops it after the test. Each app
instance gets its own MongoDB database and Redis db. Every test under tests/e2e is marked `e2e`.
"""

from __future__ import annotations

import contextlib
import secrets
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from pymongo.errors import PyMongoError
from redis import RedisError

from tests.servers import (
    REPO_ROOT,
    FerretDBServer,
    LiveServer,
    RedisServer,
    ServerStartError,
    require_binary,
)

HERE = Path(__file__).resolve().parent
WEB_CONCURRENCY = 2


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Conftest hooks see the whole session's items: mark only the ones in this folder.
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.e2e)


class LiveServerFactory:
    """Starts app servers on the session's FerretDB and Redis; stops what it started."""

    def __init__(
        self,
        uwsgi_bin: str,
        mongo_server: FerretDBServer,
        redis_server: RedisServer,
        tmp_path_factory: pytest.TempPathFactory,
    ) -> None:
        self.uwsgi_bin = uwsgi_bin
        self.mongo_server = mongo_server
        self.redis_server = redis_server
        self.tmp_path_factory = tmp_path_factory
        self.servers: list[LiveServer] = []

    def base_env(self) -> dict[str, str]:
        """The settings every live server gets: fresh database and Redis db, random secrets."""
        self.mongo_server.ensure_running()
        self.redis_server.ensure_running()
        return {
            "APP_ENV": "testing",
            "WEB_CONCURRENCY": str(WEB_CONCURRENCY),
            "MONGO_URI": self.mongo_server.uri_for(f"e2e_{uuid.uuid4().hex[:12]}"),
            "REDIS_URL": self.redis_server.url_for(self.redis_server.allocate_db()),
            "SECRET_KEY": secrets.token_hex(32),
            "JWT_SECRET_KEY": secrets.token_hex(32),
            "RATELIMIT_ENABLED": "false",
        }

    def start(self, **env_overrides: Any) -> LiveServer:
        """Start an app server; keyword arguments override settings (None removes one)."""
        env = self.base_env()
        for key, value in env_overrides.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = str(value).lower() if isinstance(value, bool) else str(value)
        server = LiveServer(self.uwsgi_bin, env, self.tmp_path_factory.mktemp("uwsgi"))
        self.release(server)
        return self._launch(server)

    def start_twin(self, server: LiveServer) -> LiveServer:
        """A second instance of `server` (another dyno): on a port of its own, with exactly its
        settings, so the same MongoDB database, Redis db and secrets."""
        env = {key: value for key, value in server.env.items() if key != "PORT"}
        return self._launch(LiveServer(self.uwsgi_bin, env, self.tmp_path_factory.mktemp("uwsgi")))

    def _launch(self, server: LiveServer) -> LiveServer:
        self.servers.append(server)
        try:
            server.start()
        except ServerStartError as exc:
            pytest.fail(str(exc), pytrace=False)
        return server

    def release(self, server: LiveServer) -> None:
        """What Heroku's release phase does before the web dynos start: `flask db init`."""
        result = server.flask("db", "init")
        if result.returncode != 0:
            pytest.fail(f"flask db init failed:\n{result.stdout}\n{result.stderr}", pytrace=False)

    def stop(self, server: LiveServer) -> None:
        """Stop the server and drop the data it wrote."""
        server.stop()
        if server in self.servers:
            self.servers.remove(server)
        self._drop_data(server.env)

    def stop_all(self) -> None:
        for server in list(self.servers):
            self.stop(server)

    def _drop_data(self, env: dict[str, str]) -> None:
        database = env.get("MONGO_URI", "").rsplit("/", 1)[-1]
        if database.startswith("e2e_") and self.mongo_server.running:
            with self.mongo_server.client() as client, contextlib.suppress(PyMongoError):
                client.drop_database(database)
        redis_db = env.get("REDIS_URL", "").rsplit("/", 1)[-1]
        if redis_db.isdigit() and self.redis_server.running:
            with self.redis_server.client(int(redis_db)) as client, contextlib.suppress(RedisError):
                client.flushdb()


@pytest.fixture(scope="session")
def uwsgi_bin() -> str:
    venv_uwsgi = REPO_ROOT / ".venv" / "bin" / "uwsgi"
    return require_binary("UWSGI_BIN", venv_uwsgi, Path(sys.executable).parent / "uwsgi", "uwsgi")


@pytest.fixture(scope="session")
def live_server_factory(
    uwsgi_bin: str,
    mongo_server: FerretDBServer,
    redis_server: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServerFactory]:
    factory = LiveServerFactory(uwsgi_bin, mongo_server, redis_server, tmp_path_factory)
    yield factory
    factory.stop_all()


@pytest.fixture(scope="module")
def live_server(live_server_factory: LiveServerFactory) -> Iterator[LiveServer]:
    """The app under uwsgi, shared by the tests of one module: `.url`, `.env`, `.port`,
    `.restart()`, `.stop()`, `.start()`, `.log_text()`, `.worker_pids()`."""
    server = live_server_factory.start()
    yield server
    live_server_factory.stop(server)


@pytest.fixture
def start_live_server(
    live_server_factory: LiveServerFactory,
) -> Iterator[Callable[..., LiveServer]]:
    """`start_live_server(**env_overrides) -> LiveServer`: a fresh app server for this test,
    e.g. `start_live_server(RATELIMIT_ENABLED=True, DEFAULT_RATE_LIMIT=5)`; stopped afterwards."""
    started: list[LiveServer] = []

    def start(**env_overrides: Any) -> LiveServer:
        server = live_server_factory.start(**env_overrides)
        started.append(server)
        return server

    yield start
    for server in started:
        live_server_factory.stop(server)


# Figures the proof stages of issue 14 report (requests, statuses, worker memory), printed in a
# section of their own at the end of the run.
PROOF_FIGURES: list[str] = []


@pytest.fixture
def proof_report() -> Callable[[str], None]:
    """`proof_report(line)`: a figure for the run's "proof stages" summary section."""
    return PROOF_FIGURES.append


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if PROOF_FIGURES:
        terminalreporter.section("proof stages (issue 14)")
        for line in PROOF_FIGURES:
            terminalreporter.write_line(line)


class HttpSession(requests.Session):
    """A requests.Session whose requests time out (15 s) unless told otherwise."""

    timeout = 15.0

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A requests.Session (default timeout 15 s), closed after the test."""
    with HttpSession() as session:
        yield session
