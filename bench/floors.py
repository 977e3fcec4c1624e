"""The floors of bench/endpoints.py beyond those of bench/bare_app.py (constant JSON and the users
listing): the one query of each item read, todo list and write, template read and login, on the
same bare Flask app.

No auth, no blocklist check, no rate limiting, no schemas, no logging, no metrics. Loaded by
uwsgi (`--wsgi-file bench/floors.py`) with MONGO_URI set.
"""

from __future__ import annotations

from datetime import UTC, datetime

from argon2.exceptions import VerificationError
from bson import ObjectId
from flask import Response, request
from pymongo import ReturnDocument

from bench.bare_app import USER_FIELDS, app, database, dumped, hasher, keyset_page, owner
from stores.todos import SORTS as TODO_SORTS
from stores.todos import list_filter as todo_filter
from stores.users import ACTIVE

__all__ = ["app"]


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
