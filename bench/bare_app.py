"""The floor: a bare Flask view issuing the same find as GET /api/v1/users, and nothing more.

No auth, no blocklist check, no rate limiting, no signed cursor, no schema: it takes the keyset
bound in plain parameters (`after`, `after_id`), builds the same filter, sort, hint and limit
with the app's own query builders, and dumps the documents. Loaded by uwsgi with MONGO_URI set.
"""

from __future__ import annotations

import os

import pymongo
from bson import ObjectId, json_util
from flask import Flask, Response, request

from stores.user_search import LIST_PROJECTION, search_filter, sorts_for
from web.pagination import PAGE_WINDOW, after_cursor, merge_filters

app = Flask(__name__)
collection = pymongo.MongoClient(os.environ["MONGO_URI"], connect=False).get_default_database()[
    "users"
]


@app.get("/users")
def users() -> Response:
    q = request.args.get("q", "").lower() or None
    sort = sorts_for(q)[request.args.get("sort", "username")]
    limit = int(request.args.get("limit", 20))
    criteria = search_filter(q) if q else {}
    if "after" in request.args:
        last = json_util.loads(request.args["after"])
        criteria = merge_filters(
            criteria, after_cursor(sort, last, ObjectId(request.args["after_id"]))
        )
    skip = int(request.args.get("skip", 0))
    cursor = collection.find(criteria, LIST_PROJECTION).sort(sort.mongo_sort).hint(sort.index)
    docs = list(cursor.skip(skip).limit(limit + 1))
    body = {"items": docs[:limit]}
    if "count" in request.args:
        body["total"] = (
            collection.count_documents(criteria, limit=PAGE_WINDOW)
            if q
            else collection.estimated_document_count()
        )
    return Response(json_util.dumps(body), mimetype="application/json")
