"""The e2e fixtures run the real app under uwsgi with two workers, reachable over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import requests

from tests.servers import LiveServer


def wait_for_workers(server: LiveServer, count: int, timeout: float = 15.0) -> list[int]:
    """The worker PIDs once `count` workers have loaded the app (lazy-apps loads per worker)."""
    deadline = time.monotonic() + timeout
    while True:
        text = server.log_text().rsplit("\n--- start #", 1)[-1]
        ready = {
            int(line.rsplit("pid: ", 1)[1].split()[0])
            for line in text.splitlines()
            if line.startswith("WSGI app 0 ") and " ready in " in line
        }
        if len(ready) >= count or time.monotonic() > deadline:
            return sorted(ready)
        time.sleep(0.1)


def parent_pid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def test_health_answers_200_under_uwsgi(live_server: LiveServer, http: requests.Session) -> None:
    response = http.get(f"{live_server.url}/health")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")


def test_uwsgi_runs_two_workers_that_each_load_the_app(live_server: LiveServer) -> None:
    spawned = live_server.worker_pids()
    assert len(spawned) == 2, live_server.log_tail()
    assert len(set(spawned)) == 2
    assert wait_for_workers(live_server, 2) == sorted(spawned), live_server.log_tail()
    for pid in spawned:
        assert parent_pid(pid) == live_server.pid, "workers are children of the uwsgi master"


def test_live_server_env_is_isolated_and_testing(live_server: LiveServer) -> None:
    env = live_server.env
    assert env["APP_ENV"] == "testing"
    assert env["PORT"] == str(live_server.port)
    assert env["WEB_CONCURRENCY"] == "2"
    assert env["RATELIMIT_ENABLED"] == "false"
    assert env["MONGO_URI"].rsplit("/", 1)[-1].startswith("e2e_")
    assert env["REDIS_URL"].rsplit("/", 1)[-1] != "0"
    assert len(env["SECRET_KEY"]) >= 32
    assert env["SECRET_KEY"] != env["JWT_SECRET_KEY"]


def test_restart_keeps_port_and_settings(live_server: LiveServer, http: requests.Session) -> None:
    url, env, old_pid = live_server.url, dict(live_server.env), live_server.pid
    live_server.restart()
    assert live_server.pid != old_pid
    assert (live_server.url, live_server.env) == (url, env)
    assert http.get(f"{url}/health").status_code == 200


def test_start_live_server_applies_overrides_and_stops_it(
    start_live_server: Callable[..., LiveServer],
    live_server: LiveServer,
    http: requests.Session,
) -> None:
    other = start_live_server(RATELIMIT_ENABLED=True, DEFAULT_RATE_LIMIT=5)
    assert other.port != live_server.port
    assert other.env["RATELIMIT_ENABLED"] == "true"
    assert other.env["DEFAULT_RATE_LIMIT"] == "5"
    assert other.env["MONGO_URI"] != live_server.env["MONGO_URI"]
    assert other.env["REDIS_URL"] != live_server.env["REDIS_URL"]
    assert http.get(f"{other.url}/health").status_code == 200

    other.stop()
    assert not other.running
    try:
        http.get(f"{other.url}/health", timeout=2)
    except requests.ConnectionError:
        pass
    else:
        raise AssertionError("the stopped server still answers")
    assert http.get(f"{live_server.url}/health").status_code == 200
