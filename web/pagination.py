"""The web side of pagination: loaded page arguments -> a keyset query, signed cursors, and the
contract's page envelope with its `Link` header.

A cursor is signed (itsdangerous) and bound to the sort and filters it was minted for: a garbage,
tampered or transplanted cursor is a 400, never a 500 or a wrong page. The queries themselves run
in the stores (stores/keyset.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from bson import ObjectId, json_util
from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer

from errors import ApiError
from schemas.pagination import DEFAULT_LIMIT
from stores.keyset import PAGE_WINDOW, Page, PageQuery, SortOrder

CURSOR_SALT = "list-cursor"
PAGINATION_ARGS = ("cursor", "limit", "page", "per_page")


@dataclass(frozen=True)
class PageRequest:
    """A list request's page: the store's query, plus what the envelope and cursors name."""

    sort_name: str
    query: PageQuery
    page: int | None = None

    @property
    def page_mode(self) -> bool:
        return self.page is not None


def _bad(message: str, code: str = "bad_request") -> ApiError:
    return ApiError(400, code, message)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=CURSOR_SALT)


def _query_fingerprint(args: Any) -> str:
    """What the cursor is bound to: every query argument but the pagination ones."""
    kept = sorted((k, v) for k, v in args.items(multi=True) if k not in PAGINATION_ARGS)
    return hashlib.sha256(repr(kept).encode()).hexdigest()[:16]


def encode_cursor(sort_name: str, sort: SortOrder, doc: Mapping[str, Any], args: Any) -> str:
    last_key = json_util.dumps(doc.get(sort.field))
    return _serializer().dumps([sort_name, last_key, str(doc["_id"]), _query_fingerprint(args)])


def decode_cursor(token: str, sort_name: str, args: Any) -> tuple[Any, ObjectId]:
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


def page_request(args: Mapping[str, Any], sorts: Mapping[str, SortOrder]) -> PageRequest:
    """The page a list request asks for, from its loaded arguments (schemas.pagination.PageArgs
    made `sortable`); a page past the window or a bad cursor is a 400."""
    sort_name = args["sort"]
    sort = sorts[sort_name]
    if "page" in args or "per_page" in args:
        page = args.get("page", 1)
        per_page = args.get("per_page", DEFAULT_LIMIT)
        if page * per_page > PAGE_WINDOW:
            raise _bad(
                f"Page mode reaches {PAGE_WINDOW} items at most; "
                "follow 'next_cursor' (cursor mode) to go deeper.",
                "page_window_exceeded",
            )
        query = PageQuery(sort, per_page, skip=(page - 1) * per_page, count=True)
        return PageRequest(sort_name, query, page)
    cursor = args.get("cursor")
    after = decode_cursor(cursor, sort_name, request.args) if cursor else None
    return PageRequest(sort_name, PageQuery(sort, args.get("limit", DEFAULT_LIMIT), after))


def _link(**changes: Any) -> str:
    params = [(k, v) for k, v in request.args.items(multi=True) if k not in changes]
    params += [(k, v) for k, v in changes.items() if v is not None]
    query = urlencode(params)
    return f"{request.path}?{query}" if query else request.path


def page_response(
    page_req: PageRequest, page: Page, render: Callable[[Mapping[str, Any]], dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The contract's body for one page, and its `Link` header."""
    limit = page_req.query.limit
    next_cursor = None
    if page.has_more and page.docs:
        sort = page_req.query.sort
        next_cursor = encode_cursor(page_req.sort_name, sort, page.docs[-1], request.args)
    meta: dict[str, Any] = {"limit": limit, "next_cursor": next_cursor}
    links = {"self": request.full_path.rstrip("?")}
    if page_req.page_mode:
        meta.update(page=page_req.page, per_page=limit, total=page.total)
        if page.has_more and page_req.page * limit < PAGE_WINDOW:
            links["next"] = _link(page=str(page_req.page + 1))
    elif next_cursor:
        links["next"] = _link(cursor=next_cursor)
    headers = {"Link": f'<{links["next"]}>; rel="next"'} if "next" in links else {}
    return {"items": [render(doc) for doc in page.docs], "meta": meta, "links": links}, headers
