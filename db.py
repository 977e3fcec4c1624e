"""MongoDB for this process: the client (real or mongomock), the database handle, and the indexes.

INDEXES is the one place where indexes are declared; `flask --app run db init` (cli.py) applies
them, and Heroku runs it in the release phase. Every query a list endpoint runs is backed by one of them.
"""

from __future__ import annotations

import logging

import pymongo
from flask import Flask, current_app
from pymongo import ASCENDING, IndexModel
from pymongo.database import Database

log = logging.getLogger(__name__)

# Short timeouts so an unreachable server turns into a 503 within seconds, not a hung worker.
CLIENT_OPTIONS = {
    "serverSelectionTimeoutMS": 3000,
    "connectTimeoutMS": 2000,
    "socketTimeoutMS": 5000,
    "connect": False,
    "appname": "flask-api",
}

INDEXES: dict[str, list[IndexModel]] = {
    "users": [
        # Case-insensitive uniqueness lives in normalised copies, so it works on any MongoDB-wire
        # server (FerretDB has no collation indexes).
        IndexModel([("username_lc", ASCENDING)], name="username_lc_unique", unique=True),
        IndexModel([("email_lc", ASCENDING)], name="email_lc_unique", unique=True),
        # Listing sorted by creation time; `_id` makes the order total for keyset pages.
        IndexModel([("created", ASCENDING), ("_id", ASCENDING)], name="created_id"),
    ],
}


def init_app(app: Flask) -> None:
    """Create this process's client. It connects on first use, so forking servers stay safe."""
    uri = app.config.get("MONGO_URI")
    if uri:
        client = pymongo.MongoClient(uri, **CLIENT_OPTIONS)
    else:
        import mongomock

        client = mongomock.MongoClient()
        log.warning(
            "MONGO_URI is unset: using an in-memory MongoDB stand-in (mongomock); "
            "data is lost when the process exits"
        )
    app.extensions["mongo_client"] = client
    app.extensions["mongo_db"] = client[app.config["MONGO_DB_NAME"]]


def get_db() -> Database:
    """The database of the current app."""
    return current_app.extensions["mongo_db"]


def ping(timeout_seconds: float = 2.0) -> None:
    """Raise pymongo's ConnectionFailure unless the server answers within the timeout."""
    with pymongo.timeout(timeout_seconds):
        current_app.extensions["mongo_client"].admin.command("ping")


def ensure_indexes(db: Database) -> list[str]:
    """Create every declared index (idempotent) and return their names."""
    created = []
    for collection, models in INDEXES.items():
        created += db[collection].create_indexes(models)
    return created
