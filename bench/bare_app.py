"""The floors: bare Flask views issuing the one query each endpoint needs, and nothing more.

No auth, no blocklist check, no rate limiting, no signed cursors, no schemas, no logging, no
metrics: each view takes what it needs in plain parameters (the owner's id, the keyset bound as
`after` / `after_id`), runs the same filter, sort, hint and limit as the app (built with the
app's own query builders) and dumps the documents. `/const` is the floor of the stack itself:
constant JSON, no database. Loaded by uwsgi with MONGO_URI set (bench/endpoints.py,
bench/users_search.py).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pymongo
from argon2 import PasswordHasher, profiles
from argon2.exceptions import VerificationError
from bson import ObjectId, json_util
from flask import Flask, Response, request
from pymongo import ReturnDocument

from stores.keyset import PAGE_WINDOW, after_cursor, merge_filters
from stores.todos import SORTS as TODO_SORTS
from stores.todos import list_filter as todo_filter
from stores.user_search import LIST_PROJECTION, search_filter, sorts_for
from stores.users import ACTIVE

app = Flask(__name__)
database = pymongo.MongoClient(os.environ["MONGO_URI"], connect=False).get_default_database()
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
    criteria = search_filter(q) if q else {}
    body = {"items": keyset_page(database.users, criteria, sort, LIST_PROJECTION)}
    if "count" in request.args:
        body["total"] = (
            database.users.count_documents(criteria, limit=PAGE_WINDOW)
            if q
            else database.users.estimated_document_count()
        )
    return dumped(body)


@app.get("/users/<user_id>")
def user(user_id: str) -> Response:
    found = database.users.find_one({"_id": ObjectId(user_id), **ACTIVE})
    if found is None:
        return dumped({"error": "not found"}, 404)
    return dumped({"id": found["_id"], **{name: found.get(name) for name in USER_FIELDS}})


@app.get("/todos/<todo_id>")
def todo(todo_id: str) -> Response:
    found = database.todos.find_one({"_id": ObjectId(todo_id), "owner_id": owner()})
    if found is None:
        return dumped({"error": "not found"}, 404)
    return dumped(found, ETag=f'"{found["version"]}"')


@app.get("/todos")
def todos() -> Response:
    done = request.args.get("done")
    criteria = todo_filter(
        owner(),
        done=None if done is None else done == "true",
        tags=request.args.getlist("tag"),
    )
    return dumped({"items": keyset_page(database.todos, criteria, TODO_SORTS["-created"])})


@app.post("/todos")
def create_todo() -> Response:
    now = datetime.now(UTC)
    document = {"owner_id": owner(), **request.get_json(), "version": 1, "created": now}
    document["_id"] = database.todos.insert_one(document).inserted_id
    return dumped(document, 201)


@app.patch("/todos/<todo_id>")
def patch_todo(todo_id: str) -> Response:
    version = int(request.headers["If-Match"].strip('"'))
    changes = {**request.get_json(), "updated": datetime.now(UTC)}
    updated = database.todos.find_one_and_update(
        {"_id": ObjectId(todo_id), "owner_id": owner(), "version": version},
        {"$set": changes, "$inc": {"version": 1}},
        return_document=ReturnDocument.AFTER,
    )
    if updated is None:
        return dumped({"error": "precondition failed"}, 412)
    return dumped(updated, ETag=f'"{updated["version"]}"')


@app.get("/templates/<templateid>")
def template(templateid: str) -> Response:
    found = database.templates.find_one({"templateid": templateid})
    if found is None:
        return dumped({"error": "not found"}, 404)
    return dumped(found)


@app.post("/login")
def login() -> Response:
    """The floor of a login: the one look-up and the one password verification."""
    sent = request.get_json()
    found = database.users.find_one({"username_lc": sent["username"].lower(), **ACTIVE})
    try:
        hasher.verify(found["password_hash"], sent["password"])
    except (VerificationError, TypeError):
        return dumped({"error": "invalid"}, 401)
    return dumped({"id": found["_id"]})
