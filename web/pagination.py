"""Cursor (keyset) and page pagination, shared by every list endpoint.

Cursor mode is the default and scales to any depth: the cursor holds the last item's (sort key,
`_id`), and the next page's filter starts right there, so each page is an index range scan bounded
by `limit + 1`, never a `skip`. Page mode serves classic page links with a `total`, inside a
window of 10,000 items; deeper than that, clients follow cursors.

A cursor is signed (itsdangerous) and bound to the sort and filters it was minted for: a garbage,
tampered or transplanted cursor is a 400, never a 500 or a wrong page.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from bson import ObjectId, json_util
from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer
from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection

from errors import ApiError

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
PAGE_WINDOW = 10_000
CURSOR_SALT = "list-cursor"
PAGINATION_ARGS = ("cursor", "limit", "page", "per_page")
SMALL_NUMBER = re.compile(r"^[0-9]{1,6}$")


@dataclass(frozen=True)
class SortOrder:
    """One allowed `sort` value: the stored field it orders by, and how.

    `unique` marks a key no two documents share (e.g. a normalised username): the next page then
    starts with a plain `$gt`. Otherwise the cursor also keeps `_id` to break ties. The field must
    hold one BSON type in every matching document (store a normalised copy if it could be null).
    `index` names the index to hint, when the planner needs telling.
    """

    field: str
    direction: int = ASCENDING
    unique: bool = False
    index: str | None = None

    @property
    def mongo_sort(self) -> list[tuple[str, int]]:
        if self.unique:
            return [(self.field, self.direction)]
        return [(self.field, self.direction), ("_id", self.direction)]


@dataclass(frozen=True)
class PageRequest:
    """The pagination part of a list request, validated."""

    sort_name: str
    sort: SortOrder
    limit: int
    cursor: tuple[Any, ObjectId] | None = None
    page: int | None = None

    @property
    def page_mode(self) -> bool:
        return self.page is not None


def _bad(message: str, code: str = "bad_request") -> ApiError:
    return ApiError(400, code, message)


def _number(args: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    if not SMALL_NUMBER.match(raw) or not low <= int(raw) <= high:
        raise _bad(f"'{name}' must be a whole number from {low} to {high}.")
    return int(raw)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=CURSOR_SALT)


def _query_fingerprint(args: Mapping[str, str]) -> str:
    """What the cursor is bound to: every query argument but the pagination ones."""
    kept = sorted((k, v) for k, v in args.items(multi=True) if k not in PAGINATION_ARGS)
    return hashlib.sha256(repr(kept).encode()).hexdigest()[:16]


def encode_cursor(sort_name: str, sort: SortOrder, doc: Mapping[str, Any], args) -> str:
    last_key = json_util.dumps(doc.get(sort.field))
    return _serializer().dumps([sort_name, last_key, str(doc["_id"]), _query_fingerprint(args)])


def decode_cursor(token: str, sort_name: str, args) -> tuple[Any, ObjectId]:
    try:
        payload = _serializer().loads(token)
        name, last_key, last_id, fingerprint = payload
        if name != sort_name or fingerprint != _query_fingerprint(args):
            raise ValueError("cursor minted for another query")
        return json_util.loads(last_key), ObjectId(last_id)
    except (BadSignature, ValueError, TypeError) as exc:
        raise _bad(
            "'cursor' is invalid or belongs to another query; start again without it."
        ) from exc


def parse_page_request(
    sorts: Mapping[str, SortOrder], default_sort: str, args: Mapping[str, str] | None = None
) -> PageRequest:
    """Read `sort`, `limit`/`cursor` or `page`/`per_page` from the query string (400 when bad)."""
    args = request.args if args is None else args
    sort_name = args.get("sort", default_sort)
    if sort_name not in sorts:
        raise _bad(f"'sort' must be one of: {', '.join(sorts)}.")
    sort = sorts[sort_name]
    if "page" in args or "per_page" in args:
        if "cursor" in args or "limit" in args:
            raise _bad("Use either 'page'/'per_page' or 'limit'/'cursor', not both.")
        page = _number(args, "page", 1, 1, 999_999)
        per_page = _number(args, "per_page", DEFAULT_LIMIT, 1, MAX_LIMIT)
        if page * per_page > PAGE_WINDOW:
            raise _bad(
                f"Page mode reaches {PAGE_WINDOW} items at most; "
                "follow 'next_cursor' (cursor mode) to go deeper.",
                "page_window_exceeded",
            )
        return PageRequest(sort_name, sort, per_page, page=page)
    limit = _number(args, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    cursor = args.get("cursor")
    decoded = decode_cursor(cursor, sort_name, args) if cursor else None
    return PageRequest(sort_name, sort, limit, cursor=decoded)


def after_cursor(sort: SortOrder, last_key: Any, last_id: ObjectId) -> dict[str, Any]:
    """The filter for "strictly after (last_key, last_id)" in the sort's order.

    For a non-unique key the range starts *at* the last key and excludes only the ties already
    seen. This form keeps an index range scan; the look-alike `$or` of (`key > last`) and
    (`key == last and _id > id`) makes some engines walk every row before the cursor.
    """
    forward = sort.direction == ASCENDING
    if sort.unique:
        return {sort.field: {"$gt" if forward else "$lt": last_key}}
    return {
        sort.field: {"$gte" if forward else "$lte": last_key},
        "$nor": [{sort.field: last_key, "_id": {"$lte" if forward else "$gte": last_id}}],
    }


def merge_filters(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """AND two filters, folding operator ranges on the same field into one condition when possible."""
    merged = dict(base)
    for key, condition in extra.items():
        if key not in merged:
            merged[key] = condition
            continue
        current = merged[key]
        both_ranges = isinstance(current, dict) and isinstance(condition, dict)
        if (
            both_ranges
            and not set(current) & set(condition)
            and all(op.startswith("$") for op in [*current, *condition])
        ):
            merged[key] = {**current, **condition}
        else:
            return {"$and": [dict(base), dict(extra)]}
    return merged


def _link(args: Mapping[str, str], **changes: Any) -> str:
    params = [(k, v) for k, v in args.items(multi=True) if k not in changes]
    params += [(k, v) for k, v in changes.items() if v is not None]
    query = urlencode(params)
    return f"{request.path}?{query}" if query else request.path


def paginate(
    collection: Collection,
    query_filter: Mapping[str, Any],
    page_request: PageRequest,
    render: Callable[[Mapping[str, Any]], dict[str, Any]],
    *,
    count: Callable[[], int] | None = None,
    projection: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Run one page of `query_filter` and return the contract's body and its `Link` header.

    `count` overrides how page mode computes `total` (e.g. `estimated_document_count` when there
    is no filter); cursor mode never counts.
    """
    args = request.args
    sort = page_request.sort
    limit = page_request.limit
    criteria = dict(query_filter)
    skip = 0
    if page_request.cursor is not None:
        criteria = merge_filters(criteria, after_cursor(sort, *page_request.cursor))
    if page_request.page_mode:
        skip = (page_request.page - 1) * limit

    cursor = collection.find(criteria, projection).sort(sort.mongo_sort).skip(skip).limit(limit + 1)
    if sort.index:
        cursor = cursor.hint(sort.index)
    docs = list(cursor)
    has_more = len(docs) > limit
    docs = docs[:limit]

    next_cursor = None
    if has_more and docs:
        next_cursor = encode_cursor(page_request.sort_name, sort, docs[-1], args)
    meta: dict[str, Any] = {"limit": limit, "next_cursor": next_cursor}
    links = {"self": request.full_path.rstrip("?")}
    if page_request.page_mode:
        total = count() if count else collection.count_documents(query_filter)
        meta.update(page=page_request.page, per_page=limit, total=total)
        if has_more and page_request.page * limit < PAGE_WINDOW:
            links["next"] = _link(args, page=str(page_request.page + 1))
    elif next_cursor:
        links["next"] = _link(args, cursor=next_cursor)

    headers = {"Link": f'<{links["next"]}>; rel="next"'} if "next" in links else {}
    return {"items": [render(doc) for doc in docs], "meta": meta, "links": links}, headers


__all__ = [
    "ASCENDING",
    "DESCENDING",
    "PageRequest",
    "SortOrder",
    "paginate",
    "parse_page_request",
]
