"""HTTP resources, one module per resource; `register_resources` mounts them all."""

from __future__ import annotations

from flask import Blueprint, Flask

from errors import ErrorRoutingApi
from resources import auth, recovery, templates, todos, users
from resources.caller import rate_limit_identity
from resources.health import ops
from resources.web_client import web_client
from web import API_PREFIX


def register_resources(app: Flask) -> None:
    app.extensions["rate_limit_identity"] = rate_limit_identity
    api_blueprint = Blueprint("api", __name__, url_prefix=API_PREFIX)
    api = ErrorRoutingApi(api_blueprint)
    for module in (auth, recovery, users, todos, templates):
        module.register(api)
    app.register_blueprint(api_blueprint)
    app.register_blueprint(ops)
    app.register_blueprint(web_client)
