"""MongoDB for this process: the client (real or mongomock), the database handle, and the indexes.

INDEXES is the one place where indexes are declared; `flask --app run db init` (cli.py) applies
them, and Heroku runs it in the release phase. Every query a list endpoint runs is backed by one of them.
"""

from __future__ import annotations

import logging

import pymongo
from flask import Flask, current_app, g
from pymongo import ASCENDING, DESCENDING, IndexModel, monitoring
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

# Per request while the server is known to be down (see short_deadline_while_unreachable).
UNREACHABLE_DEADLINE_SECONDS = 0.25

INDEXES: dict[str, list[IndexModel]] = {
    "users": [
        # Case-insensitive uniqueness lives in normalised copies, so it works on any MongoDB-wire
        # server (FerretDB has no collation indexes).
        IndexModel([("username_lc", ASCENDING)], name="username_lc_unique", unique=True),
        IndexModel([("email_lc", ASCENDING)], name="email_lc_unique", unique=True),
        # Listing sorted by creation time; `_id` makes the order total for keyset pages.
        IndexModel([("created", ASCENDING), ("_id", ASCENDING)], name="created_id"),
        # GET /users (stores/user_search.py). Without `q`: one index per sort order. MongoDB
        # could walk one index either way and sort from the unique one, but index-backed
        # MongoDB-wire engines (DocumentDB / FerretDB 2) give an ordered scan only forwards and
        # only from a non-unique index; users are written rarely, so the twins are cheap.
        IndexModel([("username_lc", ASCENDING), ("_id", ASCENDING)], name="username_lc_id"),
        IndexModel([("username_lc", DESCENDING), ("_id", DESCENDING)], name="username_lc_id_desc"),
        IndexModel([("created", DESCENDING), ("_id", DESCENDING)], name="created_id_desc"),
        # Redeeming a password reset or verification link: one look-up by the token's hash.
        IndexModel([("reset_token_hash", ASCENDING)], name="reset_token_hash"),
        IndexModel([("verify_token_hash", ASCENDING)], name="verify_token_hash"),
    ],
    "user_prefixes": [
        # GET /users with `q` (stores/user_prefixes.py): equality on a scalar prefix, then the
        # sort key, so every engine hands the matches out in sort order and a page reads
        # `limit + 1` rows. One index per sort order and direction, as for the listing: the
        # index-backed engines walk an index in order only forwards. `_id` ("<user id>:<prefix>")
        # breaks `created` ties as the users' `_id` does, and finds one user's rows.
        IndexModel([("prefix", ASCENDING), ("username_lc", ASCENDING)], name="prefix_username"),
        IndexModel(
            [("prefix", ASCENDING), ("username_lc", DESCENDING)], name="prefix_username_desc"
        ),
        IndexModel(
            [("prefix", ASCENDING), ("created", ASCENDING), ("_id", ASCENDING)],
            name="prefix_created_id",
        ),
        IndexModel(
            [("prefix", ASCENDING), ("created", DESCENDING), ("_id", DESCENDING)],
            name="prefix_created_id_desc",
        ),
    ],
    "todos": [
        # Every todo query starts with the owner; each list sort has its (owner, key, _id) index,
        # so a page is one ordered index range, `_id` breaking ties (stores/todos.py hints them).
        # Descending twins for `-created` (the default) and `-due`: index-backed MongoDB-wire
        # engines (DocumentDB) scan an index in order only forwards. The first index also serves
        # account deletion (delete_many by owner).
        IndexModel(
            [("owner_id", ASCENDING), ("created", ASCENDING), ("_id", ASCENDING)],
            name="owner_created_id",
        ),
        IndexModel(
            [("owner_id", ASCENDING), ("created", DESCENDING), ("_id", DESCENDING)],
            name="owner_created_id_desc",
        ),
        IndexModel(
            [("owner_id", ASCENDING), ("due_sort", ASCENDING), ("_id", ASCENDING)],
            name="owner_due_sort_id",
        ),
        IndexModel(
            [("owner_id", ASCENDING), ("due_sort", DESCENDING), ("_id", DESCENDING)],
            name="owner_due_sort_id_desc",
        ),
        # The title sort, and `q` (a prefix range on the case-folded title) under any sort.
        IndexModel(
            [("owner_id", ASCENDING), ("title_lc", ASCENDING), ("_id", ASCENDING)],
            name="owner_title_lc_id",
        ),
    ],
    "templates": [
        # The path key: one template per UUID.
        IndexModel([("templateid", ASCENDING)], name="templateid_unique", unique=True),
        # The `name` sorts and `q` (an anchored prefix of the case-folded name), `_id` breaking
        # ties for keyset pages; and the `created` sorts.
        IndexModel([("name_lc", ASCENDING), ("_id", ASCENDING)], name="name_lc_id"),
        IndexModel([("created", ASCENDING), ("_id", ASCENDING)], name="created_id"),
    ],
    "sessions": [
        # Ending or removing every login of one user (password or role change, deletion).
        IndexModel([("user_id", ASCENDING)], name="user_id"),
        # `db cleanup` removes ended sessions (FerretDB 1.24 has no TTL indexes).
        IndexModel([("expires", ASCENDING)], name="expires"),
    ],
    "api_keys": [
        # Verifying a key is one lookup by the hash of what the client sent.
        IndexModel([("key_hash", ASCENDING)], name="key_hash_unique", unique=True),
        # The public id inside every key (`tk_<key_id>_...`): `apikeys revoke <id>`.
        IndexModel([("key_id", ASCENDING)], name="key_id_unique", unique=True),
    ],
}


class ServerHeartbeats(monitoring.ServerHeartbeatListener):
    """Whether the driver's monitor reached the server at its last check (it checks every half
    second while operations wait for the server, every ten seconds otherwise)."""

    def __init__(self) -> None:
        self.reachable = True

    def started(self, event: monitoring.ServerHeartbeatStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.ServerHeartbeatSucceededEvent) -> None:
        self.reachable = True

    def failed(self, event: monitoring.ServerHeartbeatFailedEvent) -> None:
        self.reachable = False


def short_deadline_while_unreachable() -> None:
    """While the server is known to be down, this request's operations get
    UNREACHABLE_DEADLINE_SECONDS, server selection included, instead of serverSelectionTimeoutMS.

    A synchronous worker waiting 3 s per request for a server that is gone serves a third of a
    request a second; requests queued behind it then wait far past the 503 the contract promises
    within 10 s (measured: 13 s for 16 clients on 2 workers through a 12 s outage). Operations
    still try, so they keep the monitor checking and succeed as soon as the server is back.
    """
    heartbeats = current_app.extensions.get("mongo_heartbeats")
    if heartbeats is not None and not heartbeats.reachable:
        g.mongo_deadline = pymongo.timeout(UNREACHABLE_DEADLINE_SECONDS)
        g.mongo_deadline.__enter__()


def end_short_deadline(_error: BaseException | None) -> None:
    deadline = g.pop("mongo_deadline", None)
    if deadline is not None:
        deadline.__exit__(None, None, None)


def init_app(app: Flask) -> None:
    """Create this process's client. It connects on first use, so forking servers stay safe."""
    uri = app.config.get("MONGO_URI")
    if uri:
        heartbeats = app.extensions["mongo_heartbeats"] = ServerHeartbeats()
        client = pymongo.MongoClient(uri, event_listeners=[heartbeats], **CLIENT_OPTIONS)
        app.before_request(short_deadline_while_unreachable)
        app.teardown_request(end_short_deadline)
    else:
        import mongomock

        client = mongomock.MongoClient()
        log.warning(
            "MONGO_URI is unset: using an in-memory MongoDB stand-in (mongomock); "
            "data is lost when the process exits"
        )
    app.extensions["mongo_client"] = client
    app.extensions["mongo_db"] = client[app.config["MONGO_DB_NAME"]]
    if not uri:
        # Nobody runs `db init` on a fresh in-memory database: uniqueness must hold all the same.
        ensure_indexes(app.extensions["mongo_db"])


def get_db() -> Database:
    """The database of the current app."""
    return current_app.extensions["mongo_db"]


def ping(timeout_seconds: float = 2.0) -> None:
    """Raise pymongo's ConnectionFailure unless the server answers within the timeout."""
    with pymongo.timeout(timeout_seconds):
        current_app.extensions["mongo_client"].admin.command("ping")


def ensure_indexes(db: Database) -> list[str]:
    """Create every declared index that is missing (idempotent) and return all their names.

    One index per command, and only the missing ones: FerretDB 1.24 drops the connection (a
    server-side panic) when one `createIndexes` names several indexes that all exist already.
    """
    names = []
    for collection, models in INDEXES.items():
        existing = set(db[collection].index_information())
        for model in models:
            name = model.document["name"]
            if name not in existing:
                db[collection].create_indexes([model])
            names.append(name)
    return names
