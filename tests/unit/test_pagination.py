"""The shared pagination: argument validation (schemas.pagination loaded by web.parsing), cursor
integrity (web.pagination), and keyset walks with ties (stores.keyset)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from bson import ObjectId
from flask import Flask
from werkzeug.datastructures import MultiDict

from errors import ApiError
from schemas.pagination import PageArgs, sortable
from stores.keyset import ASCENDING, DESCENDING, SortOrder, after_cursor, find_page, merge_filters
from web.pagination import page_request, page_response
from web.parsing import parser

SORTS = {
    "created": SortOrder("created"),
    "-created": SortOrder("created", DESCENDING),
    "name": SortOrder("name_lc", unique=True),
}
ITEM_ARGS = sortable(PageArgs, SORTS, "created")


@pytest.fixture
def items(app):
    """30 documents whose `created` takes only 4 values: lots of ties."""
    from db import get_db

    base = datetime(2026, 1, 1)
    docs = [
        {
            "_id": ObjectId(),
            "created": base + timedelta(days=n % 4),
            "name_lc": f"n{n:03d}",
            "group": n % 2,
        }
        for n in range(30)
    ]
    with app.app_context():
        get_db().items.insert_many(docs)
    return docs


def page(app, query: str, query_filter=None):
    with app.test_request_context(f"/api/v1/items?{query}"):
        from db import get_db

        args = parser.parse(ITEM_ARGS, location="query")
        requested = page_request(args, SORTS)
        found = find_page(get_db().items, query_filter or {}, requested.query)
        return page_response(requested, found, lambda d: {"id": str(d["_id"])})


def walk(app, query: str, query_filter=None, cursor: str | None = None) -> list[str]:
    seen = []
    for _ in range(100):
        body, _ = page(app, query + (f"&cursor={cursor}" if cursor else ""), query_filter)
        seen += [item["id"] for item in body["items"]]
        cursor = body["meta"]["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("the cursor walk did not end")


@pytest.mark.parametrize("sort", ["created", "-created", "name"])
def test_cursor_walk_visits_every_item_once_in_order_despite_ties(app, items, sort):
    seen = walk(app, f"limit=7&sort={sort}")
    field = SORTS[sort].field
    reverse = SORTS[sort].direction == DESCENDING
    expected = sorted(items, key=lambda d: (d[field], d["_id"]), reverse=reverse)
    assert seen == [str(d["_id"]) for d in expected]


def test_cursor_walk_respects_the_filter(app, items):
    seen = walk(app, "limit=4&group=1", {"group": 1})
    assert sorted(seen) == sorted(str(d["_id"]) for d in items if d["group"] == 1)


def test_items_inserted_behind_the_cursor_are_not_repeated(app, items):
    from db import get_db

    first, _ = page(app, "limit=10&sort=created")
    with app.app_context():
        get_db().items.insert_one({"created": datetime(2025, 1, 1), "name_lc": "early"})
    rest = walk(app, "limit=10&sort=created", cursor=first["meta"]["next_cursor"])
    ids = [i["id"] for i in first["items"]] + rest
    assert len(ids) == len(set(ids)) == 30


def test_page_mode_reports_total_and_next_link(app, items):
    body, headers = page(app, "page=2&per_page=10&sort=name")
    assert body["meta"] == {**body["meta"], "page": 2, "per_page": 10, "total": 30}
    assert len(body["items"]) == 10
    assert body["links"]["next"].endswith("page=3")
    assert headers["Link"] == f'<{body["links"]["next"]}>; rel="next"'


def test_last_page_has_no_next(app, items):
    body, headers = page(app, "page=3&per_page=10")
    assert "next" not in body["links"] and headers == {}
    assert body["meta"]["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("limit=0", "bad_request"),
        ("limit=101", "bad_request"),
        ("limit=abc", "bad_request"),
        ("limit=-1", "bad_request"),
        ("per_page=101", "bad_request"),
        ("page=0", "bad_request"),
        ("sort=password", "bad_request"),
        ("cursor=garbage", "bad_request"),
        ("page=1&cursor=x", "bad_request"),
        ("page=101&per_page=100", "page_window_exceeded"),
        ("page=501&per_page=20", "page_window_exceeded"),
        ("page=10001&per_page=1", "page_window_exceeded"),
    ],
)
def test_bad_pagination_arguments_are_400(app, items, query, code):
    with pytest.raises(ApiError) as error:
        page(app, query)
    assert error.value.status == 400 and error.value.code == code


def test_page_window_edge_is_allowed(app, items):
    body, _ = page(app, "page=100&per_page=100")
    assert body["items"] == [] and body["meta"]["total"] == 30


def test_cursor_is_bound_to_its_sort_and_filters(app, items):
    body, _ = page(app, "limit=5&sort=created&q=a")
    cursor = body["meta"]["next_cursor"]
    for query in (f"sort=-created&q=a&cursor={cursor}", f"sort=created&q=b&cursor={cursor}"):
        with pytest.raises(ApiError):
            page(app, query)


def test_cursor_signed_with_another_secret_is_refused(app, items):
    body, _ = page(app, "limit=5")
    other = Flask("other")
    other.config["SECRET_KEY"] = "another-secret"
    with other.test_request_context("/"):
        from web.pagination import encode_cursor

        doc = {"created": datetime(2030, 1, 1), "_id": ObjectId()}
        forged = encode_cursor("created", SORTS["created"], doc, MultiDict({"limit": "5"}))
    assert forged != body["meta"]["next_cursor"]
    with pytest.raises(ApiError):
        page(app, f"limit=5&cursor={forged}")


def test_after_cursor_uses_the_index_friendly_form():
    last_id = ObjectId()
    when = datetime(2026, 1, 1)
    assert after_cursor(SortOrder("created"), when, last_id) == {
        "created": {"$gte": when},
        "$nor": [{"created": when, "_id": {"$lte": last_id}}],
    }
    assert after_cursor(SortOrder("created", DESCENDING), when, last_id) == {
        "created": {"$lte": when},
        "$nor": [{"created": when, "_id": {"$gte": last_id}}],
    }
    assert after_cursor(SortOrder("name_lc", ASCENDING, unique=True), "bob", last_id) == {
        "name_lc": {"$gt": "bob"}
    }


def test_merge_filters_folds_ranges_on_one_field():
    merged = merge_filters({"name_lc": {"$gte": "ab", "$lt": "ac"}}, {"name_lc": {"$gt": "abc"}})
    assert merged == {"name_lc": {"$gte": "ab", "$lt": "ac", "$gt": "abc"}}


def test_merge_filters_falls_back_to_and_on_clashing_operators():
    merged = merge_filters({"k": {"$gte": 1}}, {"k": {"$gte": 5}})
    assert merged == {"$and": [{"k": {"$gte": 1}}, {"k": {"$gte": 5}}]}
