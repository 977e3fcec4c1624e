"""The request log as servers write it: under uwsgi, one JSON line per request naming the caller
by id and holding no credential, in the same stream as uwsgi's own lines; under `flask run`
(what `make run` starts), one line per request too, werkzeug's own access line dropped."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from pathlib import Path

import pytest
import requests

from tests.e2e.helpers import API, bearer, create_api_key, login, register, secret_of, templates_url
from tests.servers import REPO_ROOT, LiveServer, ServerProcess


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def request_lines(text: str) -> list[dict]:
    return [entry for entry in json_lines(text) if entry.get("logger") == "api.request"]


def test_no_credential_reaches_the_log_and_callers_are_named_by_id(live_server, http):
    account = register(http, live_server)
    http.post(
        f"{live_server.url}{API}/auth/login",
        json={"username": account["username"], "password": "wrong-password-456"},
    )
    tokens = login(http, live_server, account)
    me = http.get(f"{live_server.url}{API}/users/me", headers=bearer(tokens["access_token"]))
    rotated = http.post(
        f"{live_server.url}{API}/auth/refresh", headers=bearer(tokens["refresh_token"])
    ).json()
    key = create_api_key(live_server, "log-check")
    listed = http.get(templates_url(live_server), headers={"X-API-KEY": key})
    assert me.status_code == 200 and listed.status_code == 200

    log_text = live_server.log_text()
    secrets = [
        account["password"],
        "wrong-password-456",
        tokens["access_token"],
        tokens["refresh_token"],
        rotated["access_token"],
        rotated["refresh_token"],
        key,
        secret_of(key),
    ]
    for line in log_text.splitlines():
        for secret in secrets:
            assert secret not in line
    # Not even a token's signature (the part after its last dot) on its own.
    for token in secrets[2:6]:
        assert token.rsplit(".", 1)[1] not in log_text

    by_id = {entry["request_id"]: entry for entry in request_lines(log_text)}
    assert by_id[me.headers["X-Request-ID"]]["user_id"] == account["id"]
    key_line = by_id[listed.headers["X-Request-ID"]]
    assert key_line["api_key_id"] == key.split("_")[1] and "user_id" not in key_line


def test_one_json_line_per_request_alongside_uwsgi_lines(live_server, http):
    sent = [f"once-{n}" for n in range(6)]
    for request_id in sent:
        http.get(f"{live_server.url}/health", headers={"X-Request-ID": request_id})
    log_text = live_server.log_text()
    logged = [entry["request_id"] for entry in request_lines(log_text)]
    assert all(logged.count(request_id) == 1 for request_id in sent)
    # uwsgi's own lines (start-up, workers) share the stream the app's JSON lines are in.
    assert "spawned uWSGI worker" in log_text
    assert not [
        line for line in log_text.splitlines() if "GET /health" in line and not line.startswith("{")
    ]


class FlaskRunServer(ServerProcess):
    """`flask --app run run` (the development server `make run` starts) on the embedded
    stand-ins, with the settings given."""

    name = "flask-run"
    parent_death_signal = signal.SIGTERM

    def __init__(self, workdir: Path, **settings: str) -> None:
        super().__init__(workdir)
        self.settings = settings

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        flask = Path(sys.executable).with_name("flask")
        return [str(flask), "--app", "run", "run", "--host", "127.0.0.1", "--port", str(self.port)]

    def cwd(self) -> Path:
        return REPO_ROOT

    def environment(self) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if k not in LiveServer.APP_SETTINGS}
        return {**inherited, "PYTHONUNBUFFERED": "1", **self.settings}

    def is_ready(self) -> bool:
        try:
            return requests.get(f"{self.url}/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False


TEXT_REQUEST_LINE = re.compile(r"^GET /health 200 \d+\.\dms (?P<id>once-\d)$")


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_flask_run_logs_each_request_once(tmp_path, http, log_format):
    # Empty URLs: the embedded stand-ins, whatever a developer's .env says.
    server = FlaskRunServer(
        tmp_path, APP_ENV="development", LOG_FORMAT=log_format, MONGO_URI="", REDIS_URL=""
    )
    with server:
        for n in range(3):
            assert http.get(f"{server.url}/health", headers={"X-Request-ID": f"once-{n}"}).ok
    log_text = server.log_text()
    health_lines = [line for line in log_text.splitlines() if "/health" in line]
    # The readiness polls of the fixture are requests too: count only ours.
    ours = [line for line in health_lines if "once-" in line]
    assert len(ours) == 3, log_text
    assert '"GET /health HTTP/1.1"' not in log_text  # werkzeug's own access line
    if log_format == "text":
        assert [TEXT_REQUEST_LINE.match(line)["id"] for line in ours] == [
            "once-0",
            "once-1",
            "once-2",
        ]
        assert "\x1b[" not in log_text  # not a terminal: no colour codes
    else:
        assert [json.loads(line)["request_id"] for line in ours] == ["once-0", "once-1", "once-2"]
