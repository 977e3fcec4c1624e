"""The floors: bare Flask views issuing the finds of GET /api/v1/users, and nothing more.

No auth, no blocklist check, no rate limiting, no signed cursor, no schema: the keyset bound
comes in plain parameters (`after`, `after_id`). Without `q` it is the list floor: one find with
the listing's filter, sort, hint and limit. With `q` it calls our own store (the rows walk and the
users by `_id`), so the difference to ours is the HTTP plumbing alone. Loaded by uwsgi with
MONGO_URI set.
"""

from __future__ import annotations

import os

import pymongo
from bson import ObjectId, json_util
from flask import Flask, Response, request

from stores.keyset import PageQuery, after_cursor, merge_filters
from stores.user_search import LIST_PROJECTION, list_users, sorts_for

app = Flask(__name__)
# What stores read through db.get_db().
app.extensions["mongo_db"] = pymongo.MongoClient(
    os.environ["MONGO_URI"], connect=False
).get_default_database()
collection = app.extensions["mongo_db"]["users"]


@app.get("/users")
def users() -> Response:
    q = request.args.get("q", "").lower() or None
    sort = sorts_for(q)[request.args.get("sort", "username")]
    limit = int(request.args.get("limit", 20))
    skip = int(request.args.get("skip", 0))
    after = None
    if "after" in request.args:
        after = (json_util.loads(request.args["after"]), ObjectId(request.args["after_id"]))
    if q:
        page = PageQuery(sort, limit, after=after, skip=skip, count="count" in request.args)
        found = list_users(q, page)
        body = {"items": found.docs, "total": found.total}
        return Response(json_util.dumps(body), mimetype="application/json")
    criteria = merge_filters({}, after_cursor(sort, *after)) if after else {}
    cursor = collection.find(criteria, LIST_PROJECTION).sort(sort.mongo_sort).hint(sort.index)
    body = {"items": list(cursor.skip(skip).limit(limit + 1))[:limit]}
    if "count" in request.args:
        body["total"] = collection.estimated_document_count()
    return Response(json_util.dumps(body), mimetype="application/json")
