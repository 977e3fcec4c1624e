"""The floors: bare Flask views issuing the one query each endpoint needs, and nothing more.

No auth, no blocklist check, no rate limiting, no signed cursors, no schemas, no logging, no
metrics: each view takes what it needs in plain parameters (the owner's id, the keyset bound as
`after` / `after_id`), runs the same filter, sort, hint and limit as the app (built with the
app's own query builders) and dumps the documents. `/const` is the floor of the stack itself:
constant JSON, no database. `/users` with `q` calls our own store (the prefix rows walk and the
users by `_id`), so the difference to ours is the HTTP plumbing alone. Loaded by uwsgi with MONGO_URI set (bench/endpoints.py,
bench/users_search.py).
"""

from __future__ import annotations

import os

import pymongo
from argon2 import PasswordHasher, profiles
from bson import ObjectId, json_util
from flask import Flask, Response, request

from stores.keyset import PageQuery, after_cursor, merge_filters
from stores.user_search import LIST_PROJECTION, list_users, sorts_for

app = Flask(__name__)
database = pymongo.MongoClient(os.environ["MONGO_URI"], connect=False).get_default_database()
# What stores read through db.get_db() (the `q` floor calls the user search store).
app.extensions["mongo_db"] = database
# The app's default password profile (config.DEFAULT_HASH_PROFILE), or the one the bench names.
hasher = PasswordHasher.from_parameters(
    getattr(profiles, os.environ.get("PASSWORD_HASH_PROFILE", "RFC_9106_LOW_MEMORY"))
)
# What GET /users/<id> renders of a user (schemas/users.py), never the hash.
USER_FIELDS = ("username", "name", "role", "created", "updated")


def dumped(body, status: int = 200, **headers: str) -> Response:
    return Response(json_util.dumps(body), status, headers, mimetype="application/json")


def owner() -> ObjectId:
    return ObjectId(request.args["owner"])


def keyset_page(collection, criteria: dict, sort, projection=None) -> list[dict]:
    """One page after the optional `after` / `after_id` bound, as the app's stores read it."""
    if "after" in request.args:
        last = json_util.loads(request.args["after"])
        criteria = merge_filters(
            criteria, after_cursor(sort, last, ObjectId(request.args["after_id"]))
        )
    limit = int(request.args.get("limit", 20))
    cursor = collection.find(criteria, projection).sort(sort.mongo_sort)
    if sort.index:
        cursor = cursor.hint(sort.index)
    skip = int(request.args.get("skip", 0))
    return list(cursor.skip(skip).limit(limit + 1))[:limit]


@app.get("/const")
def const() -> Response:
    return Response('{"ok": true}', mimetype="application/json")


@app.get("/users")
def users() -> Response:
    q = request.args.get("q", "").lower() or None
    sort = sorts_for(q)[request.args.get("sort", "username")]
    if q:
        after = None
        if "after" in request.args:
            after = (json_util.loads(request.args["after"]), ObjectId(request.args["after_id"]))
        limit = int(request.args.get("limit", 20))
        skip = int(request.args.get("skip", 0))
        page = PageQuery(sort, limit, after=after, skip=skip, count="count" in request.args)
        found = list_users(q, page)
        return dumped({"items": found.docs, "total": found.total})
    body = {"items": keyset_page(database.users, {}, sort, LIST_PROJECTION)}
    if "count" in request.args:
        body["total"] = database.users.estimated_document_count()
    return dumped(body)
