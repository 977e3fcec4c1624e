"""The application factory: `create_app()` builds a configured app; nothing connects at import."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import blacklist
import cli
import db
import errors
from config import load_config
from extensions import init_extensions
from observability import error_reporting, metrics, request_log
from resources import register_resources
from schemas.base import require_json_bodies
from web import openapi, security_headers
from web.converters import ObjectIdConverter, UUID4Converter

log = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from the environment, with `config` overriding it (tests, scripts).

    Raises config.ConfigError, with a one-line reason, when the settings are unusable or, in
    production, unsafe.
    """
    settings = load_config(config)
    app = Flask(__name__)
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
    # After the rate limiter's hook: a 415 counts against the client's budget like any request.
    app.before_request(require_json_bodies)
    blacklist.init_app(app)
    register_resources(app)
    openapi.init_app(app)
    cli.init_app(app)
    log.info("app ready (APP_ENV=%s)", app.config["APP_ENV"])
    return app


def trust_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXY_HOPS proxies (Heroku's router: 1), take the client's address and scheme
    from the last that many X-Forwarded-* values: the ones those proxies appended. Values further
    left are whatever the client sent, so they are never trusted; with 0 the headers are ignored.
    """
    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
