"""python-eve serving the benchmark's users collection with Eve's defaults (skip/limit pages).

Loaded by uwsgi from the bench venv (bench/.work/venv); settings come from the environment:
MONGO_URI (with the database) and nothing else. Eve pages with `?page=P&max_results=N`
(skip + limit) and counts the matches for `_meta.total` on every request, its default. Search is
what an eve user writes: `where` with an anchored `$regex` on the username or a name word
(`$regex` is off by default in `MONGO_QUERY_BLACKLIST`; only `$where` stays banned).
"""

from __future__ import annotations

import os

from eve import Eve

SETTINGS = {
    "MONGO_URI": os.environ["MONGO_URI"],
    "PAGINATION_LIMIT": 100,
    "PAGINATION_DEFAULT": 20,
    "MONGO_QUERY_BLACKLIST": ["$where"],
    "DOMAIN": {
        "users": {
            "datasource": {
                "source": "users",
                # The fields our listing renders, nothing else (no password hash).
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
            "item_methods": [],
        }
    },
}

app = Eve(settings=SETTINGS)
