"""The app under uwsgi starts, serves /health and answers 503 while a dependency is down, and
recovers by itself, without a restart, once the dependency appears."""

from __future__ import annotations

from tests.e2e.helpers import bearer, login, register, wait_for
from tests.servers import RedisServer, free_port, require_binary


def test_app_starts_without_redis_and_recovers_when_it_appears(start_live_server, http, tmp_path):
    port = free_port()  # nothing listens here until the test starts a redis-server on it
    server = start_live_server(REDIS_URL=f"redis://127.0.0.1:{port}/0")

    assert http.get(f"{server.url}/health").status_code == 200
    ready = http.get(f"{server.url}/ready")
    assert ready.status_code == 503
    assert ready.json()["error"]["details"]["unavailable"] == ["redis"]
    # What needs only MongoDB still works; a token check needs Redis and fails closed.
    headers = bearer(login(http, server, register(http, server))["access_token"])
    me = http.get(f"{server.url}/api/v1/users/me", headers=headers)
    assert me.status_code == 503
    assert me.json()["error"]["details"]["unavailable"] == ["redis"]

    with RedisServer(require_binary("REDIS_SERVER_BIN", "redis-server"), tmp_path, port=port):
        assert wait_for(lambda: http.get(f"{server.url}/ready").status_code == 200, within=10.0)
        # The same workers, no restart: the token is accepted now.
        assert http.get(f"{server.url}/api/v1/users/me", headers=headers).status_code == 200
