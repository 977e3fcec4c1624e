"""python-eve serving the benchmark's collections (users, todos, templates) with Eve's defaults.

Loaded by uwsgi from the bench venv (bench/.work/venv); settings come from the environment:
MONGO_URI (with the database) and, optionally, JWT_SECRET_KEY. Eve pages with
`?page=P&max_results=N` (skip + limit) and counts the matches for `_meta.total` on every list
request, its default; it filters with `?where=`.

With JWT_SECRET_KEY set, every resource requires our access tokens (`Authorization: Bearer`),
verified with the app's JWT library and secret, as our endpoints do (no blocklist: Eve has
none), and todos are each user's own through Eve's `auth_field`, as ours are. Without it the
resources are public (bench/users_search.py measures the users listing that way).
MONGO_URI (with the database) and nothing else. Eve pages with `?page=P&max_results=N`
(skip + limit) and counts the matches for `_meta.total` on every request, its default. Search is
what an eve user writes: `where` with an anchored `$regex` on the username or a name word
(`$regex` is off by default in `MONGO_QUERY_BLACKLIST`; only `$where` stays banned).
"""

from __future__ import annotations

import os

import jwt
from bson import ObjectId
from eve import Eve
from eve.auth import TokenAuth

JWT_SECRET_KEY = os.environ.get("JWT_SECRET_KEY")


class AccessTokenAuth(TokenAuth):
    """Our access tokens: signature, expiry and type; the token's user owns what it writes."""

    def check_auth(self, token, allowed_roles, resource, method):
        try:
            claims = jwt.decode(token, JWT_SECRET_KEY, algorithms=["HS256"])
        except jwt.InvalidTokenError:
            return False
        if claims.get("type") != "access":
            return False
        self.set_request_auth_value(ObjectId(claims["sub"]))
        return True


TODO_SCHEMA = {
    "title": {"type": "string", "required": True, "minlength": 1, "maxlength": 200},
    "description": {"type": "string", "maxlength": 2000},
    "done": {"type": "boolean"},
    "due": {"type": "string", "nullable": True},
    "tags": {"type": "list", "schema": {"type": "string", "minlength": 1, "maxlength": 30}},
    "owner_id": {"type": "objectid"},
}

SETTINGS = {
    "MONGO_URI": os.environ["MONGO_URI"],
    "PAGINATION_LIMIT": 100,
    "PAGINATION_DEFAULT": 20,
    # Our documents' own timestamp fields, so Eve's writes keep them in our shape.
    "DATE_CREATED": "created",
    "LAST_UPDATED": "updated",
    "MONGO_QUERY_BLACKLIST": ["$where"],
    "DOMAIN": {
        "users": {
            "datasource": {
                "source": "users",
                # The fields our endpoints render, nothing else (no password hash).
                "projection": {
                    "username": 1,
                    "email": 1,
                    "name": 1,
                    "role": 1,
                    "created": 1,
                    "updated": 1,
                },
                "default_sort": [("username_lc", 1)],
            },
            "allowed_filters": ["username_lc", "name_words"],
            "resource_methods": ["GET"],
            "item_methods": ["GET"],
        },
        "todos": {
            "datasource": {"source": "todos", "default_sort": [("created", -1), ("_id", -1)]},
            "schema": TODO_SCHEMA,
            "allowed_filters": ["done", "tags"],
            "resource_methods": ["GET", "POST"],
            "item_methods": ["GET", "PATCH"],
            "auth_field": "owner_id",
        },
        "templates": {
            "datasource": {"source": "templates", "default_sort": [("name_lc", 1)]},
            "item_lookup_field": "templateid",
            "item_url": 'regex("[0-9a-f-]{36}")',
            "resource_methods": ["GET"],
            "item_methods": ["GET"],
        },
    },
}

app = Eve(settings=SETTINGS, auth=AccessTokenAuth if JWT_SECRET_KEY else None)
