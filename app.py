"""The application factory: `create_app()` builds a configured app; nothing connects at import."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import click
from flask import Flask
from flask.cli import get_debug_flag, run_command
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.serving import is_running_from_reloader

import blacklist
import cli
import db
import errors
from config import load_config
from extensions import init_extensions
from observability import error_reporting, metrics, request_log
from resources import register_resources
from services import mail
from services.demo_data import DEMO_PASSWORD, DEMO_USERNAME, demo_data_wanted, seed_demo_data
from services.seeding import SEED_PASSWORD
from web import openapi, security_headers
from web.converters import ObjectIdConverter, UUID4Converter
from web.parsing import require_json_bodies

log = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from the environment, with `config` overriding it (tests, scripts).

    Raises config.ConfigError, with a one-line reason, when the settings are unusable or, in
    production, unsafe.
    """
    settings = load_config(config)
    # No default /static route: the web client's blueprint serves static/ with exact types.
    app = Flask(__name__, static_folder=None)
    app.config.update(settings)
    app.json.sort_keys = False
    app.url_map.strict_slashes = False
    app.url_map.converters["objectid"] = ObjectIdConverter
    app.url_map.converters["uuid4"] = UUID4Converter
    trust_proxies(app)

    error_reporting.init_app(app)
    # First of the request hooks, so requests refused by the later ones (415, 429) are timed too.
    metrics.init_app(app)
    request_log.init_app(app)
    security_headers.init_app(app)
    errors.init_app(app)
    db.init_app(app)
    init_extensions(app)
    mail.init_app(app)
    # After the rate limiter's hook: a 415 counts against the client's budget like any request.
    app.before_request(require_json_bodies)
    blacklist.init_app(app)
    register_resources(app)
    openapi.init_app(app)
    cli.init_app(app)
    seed_demo_data_for_flask_run(app)
    log.info("app ready (APP_ENV=%s)", app.config["APP_ENV"])
    return app


def flask_run_address() -> str | None:
    """`http://host:port` when Flask's own `run` command is loading the app to serve it; None
    under uwsgi, in tests, for every other CLI command, and in the reloader's watcher process
    (which loads the app but never serves it)."""
    context = click.get_current_context(silent=True)
    if context is None or context.command is not run_command:
        return None
    reload = context.params.get("reload")
    if (get_debug_flag() if reload is None else reload) and not is_running_from_reloader():
        return None
    return f"http://{context.params['host']}:{context.params['port']}"


def seed_demo_data_for_flask_run(app: Flask) -> None:
    """Give `make run` on the in-memory stand-ins something to look at (services/demo_data.py)."""
    address = flask_run_address()
    if address is None or not demo_data_wanted(app.config):
        return
    with app.app_context():
        report = seed_demo_data(app.config["DEMO_USERS"])
    click.echo(
        f"Demo data (in memory): sign in at {address}/ as {DEMO_USERNAME} / {DEMO_PASSWORD}; "
        f"{report.users:,} users (the fake ones' password is {SEED_PASSWORD!r}), "
        f"{report.todos} todos, {report.templates} templates. DEMO_USERS=0 turns this off."
    )


def trust_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXY_HOPS proxies (Heroku's router: 1), take the client's address and scheme
    from the last that many X-Forwarded-* values: the ones those proxies appended. Values further
    left are whatever the client sent, so they are never trusted; with 0 the headers are ignored.
    """
    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
