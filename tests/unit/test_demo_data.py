"""Demo data on first run: `flask run` (what `make run` starts) on the embedded stand-ins under
development seeds DEMO_USERS fake users and a demo account; nothing else ever does.

The app is loaded through Flask's real command line (a FlaskGroup, as `flask --app run` builds),
with the development server itself replaced by a recorder: the app `flask run` would serve is
the one inspected.
"""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.cli import FlaskGroup

import app as app_module
from app import create_app
from config import ConfigError, load_config
from db import get_db
from services.demo_data import DEMO_PASSWORD, DEMO_TEMPLATES, DEMO_TODOS, DEMO_USERNAME

DEMO_USERS = 25


@pytest.fixture
def development(app_config) -> dict[str, Any]:
    """The unit tests' settings, but in development (on the stand-ins, as `make run`)."""
    return {
        **app_config,
        "APP_ENV": "development",
        "PASSWORD_HASH_PROFILE": "CHEAPEST",
        "DEMO_USERS": DEMO_USERS,
    }


class FlaskCommandLine:
    """`flask <args>` on an app built from `settings`; `served` is what `flask run` would serve."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.served: Flask | None = None
        self.loaded: list[Flask] = []
        # FlaskGroup marks the process as run from the CLI; keep that out of other tests.
        monkeypatch.delenv("FLASK_RUN_FROM_CLI", raising=False)
        monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
        monkeypatch.setattr("flask.cli.run_simple", self._serve)

    def _serve(self, host: str, port: int, app: Flask, **options: Any) -> None:
        self.served = app

    def invoke(self, settings: dict[str, Any], *args: str):
        def factory() -> Flask:
            app = create_app(settings)
            self.loaded.append(app)
            return app

        group = FlaskGroup(create_app=factory, load_dotenv=False, set_debug_flag=False)
        result = CliRunner().invoke(group, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result


@pytest.fixture
def flask_cli(monkeypatch) -> FlaskCommandLine:
    return FlaskCommandLine(monkeypatch)


def counts(app: Flask) -> tuple[int, int, int]:
    with app.app_context():
        db = get_db()
        return tuple(db[name].count_documents({}) for name in ("users", "todos", "templates"))


def test_flask_run_on_the_stand_ins_seeds_demo_data_and_prints_the_login(flask_cli, development):
    result = flask_cli.invoke(development, "run", "--host", "127.0.0.1", "--port", "5123")

    app = flask_cli.served
    assert counts(app) == (DEMO_USERS + 1, len(DEMO_TODOS), len(DEMO_TEMPLATES))
    assert "sign in at http://127.0.0.1:5123/ as demo / demo-password" in result.output
    client = app.test_client()
    login = client.post(
        "/api/v1/auth/login", json={"username": DEMO_USERNAME, "password": DEMO_PASSWORD}
    )
    assert login.status_code == 200
    headers = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
    todos = client.get("/api/v1/todos", headers=headers).get_json()["items"]
    assert sorted(todo["title"] for todo in todos) == sorted(todo[0] for todo in DEMO_TODOS)
    directory = client.get("/api/v1/users?page=1&per_page=5", headers=headers).get_json()
    assert directory["meta"]["total"] == DEMO_USERS + 1


def test_the_reloaders_serving_process_seeds_but_its_watcher_does_not(
    flask_cli, monkeypatch, development
):
    watcher = flask_cli.invoke(development, "run", "--reload")
    assert "Demo data" not in watcher.output
    assert counts(flask_cli.loaded[-1]) == (0, 0, 0)

    monkeypatch.setenv("WERKZEUG_RUN_MAIN", "true")  # what the reloader sets in the server process
    served = flask_cli.invoke(development, "run", "--reload")
    assert "Demo data" in served.output
    assert counts(flask_cli.served)[0] == DEMO_USERS + 1


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({"APP_ENV": "testing"}, id="testing"),
        pytest.param({"DEMO_USERS": 0}, id="DEMO_USERS=0"),
    ],
)
def test_flask_run_seeds_nothing_when_not_wanted(flask_cli, settings, development):
    result = flask_cli.invoke({**development, **settings}, "run")
    assert counts(flask_cli.served) == (0, 0, 0)
    assert "Demo data" not in result.output


@pytest.mark.parametrize(
    "server",
    [
        pytest.param({"MONGO_URI": "mongodb://127.0.0.1:1/unreachable"}, id="MONGO_URI"),
        pytest.param({"REDIS_URL": "redis://127.0.0.1:1/0"}, id="REDIS_URL"),
    ],
)
def test_flask_run_never_seeds_a_real_server(flask_cli, monkeypatch, server, development):
    seeded = []
    monkeypatch.setattr(app_module, "seed_demo_data", seeded.append)
    result = flask_cli.invoke({**development, **server}, "run")
    flask_cli.served.extensions["mongo_client"].close()
    assert seeded == []
    assert "Demo data" not in result.output


@pytest.mark.parametrize("command", [["routes"], ["users", "--help"], ["db", "init"]])
def test_other_cli_commands_seed_nothing(flask_cli, command, development):
    result = flask_cli.invoke(development, *command)
    assert flask_cli.loaded, "the command loaded the app"
    assert counts(flask_cli.loaded[-1])[0] == 0
    assert "Demo data" not in result.output


def test_an_app_built_outside_flask_run_seeds_nothing(development):
    """uwsgi, scripts and tests build the app with create_app() directly."""
    assert counts(create_app(development)) == (0, 0, 0)


def test_demo_users_defaults_to_1000_and_0_turns_it_off():
    base = {"APP_ENV": "development"}
    assert load_config(base)["DEMO_USERS"] == 1000
    assert load_config({**base, "DEMO_USERS": "0"})["DEMO_USERS"] == 0
    for bad in ("-1", "many"):
        with pytest.raises(ConfigError, match="DEMO_USERS"):
            load_config({**base, "DEMO_USERS": bad})
