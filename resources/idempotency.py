"""Safe retries of creating POSTs: the `Idempotency-Key` request header (IETF httpapi draft,
as in Stripe's API), as a resource-method decorator.

A client that lost the answer to a POST sends it again with the same key: the first response
is replayed (`Idempotent-Replayed: true`) instead of creating a second object. Keys are scoped
to the caller (as the rate limiter identifies it: user, API key, or client address), the method
and the path; records live in Redis (stores/idempotency.py).

`@idempotent` goes above `@use_body(...)`: the body's schema check then runs only for a request
that actually runs (a replay neither re-validates nor re-creates), and an invalid body is an
error like any other, so the key stays free. Authentication (the resource's
`method_decorators`) runs before it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

import redis
from bson import ObjectId
from flask import g, request
from flask_restful.utils import unpack
from werkzeug.datastructures import Headers

from errors import ApiError
from extensions import keep_retry_after
from resources.caller import rate_limit_identity
from stores import idempotency
from web.openapi import declare_idempotency_key
from web.parsing import parser

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# 1-255 visible ASCII characters (VCHAR: no spaces, no controls).
VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")
# What a replay sends again besides status and body.
REPLAYED_HEADERS = ("Location", "ETag", "Cache-Control")
IN_PROGRESS_RETRY_AFTER = 1


def idempotency_key() -> str | None:
    """The request's key, None without one; a malformed one is a 400 before anything runs."""
    key = request.headers.get(HEADER)
    if key is not None and not VALID_KEY.fullmatch(key):
        raise ApiError(400, "bad_request", f"{HEADER} must be 1 to 255 visible ASCII characters.")
    return key


def begin(key: str) -> idempotency.Claim | idempotency.StoredResponse:
    """Claim the key for this request (the body read as the body check will read it: the
    same 400s and 415s), or the stored response to replay."""
    body_hash = idempotency.request_hash(parser.load_json(request, None))
    scope = (rate_limit_identity(), request.method, request.path)
    try:
        return idempotency.begin(scope, key, body_hash)
    except idempotency.KeyReused as error:
        raise ApiError(
            422,
            "idempotency_key_reused",
            f"This {HEADER} was first used with another request body; use a new key.",
        ) from error
    except idempotency.InProgress as error:
        keep_retry_after(IN_PROGRESS_RETRY_AFTER)
        raise ApiError(
            409,
            "request_in_progress",
            f"The first request with this {HEADER} is still running; retry shortly.",
        ) from error


def release(claim: idempotency.Claim) -> None:
    """Free the key after a failure. If Redis fails too, the marker expires on its own; the
    request's own error is what the client must see."""
    try:
        idempotency.abandon(claim)
    except redis.RedisError as error:
        log.warning("idempotency marker not released: %s", type(error).__name__)


def store(claim: idempotency.Claim, body: Any, status: int, headers: Any) -> None:
    """Keep a success for replays. If Redis fails now, the object exists: the client gets its
    answer (and will not retry) rather than a 503 inviting a retry that would create again."""
    kept = Headers(headers)
    replayed = {name: kept[name] for name in REPLAYED_HEADERS if name in kept}
    try:
        if not idempotency.finish(claim, idempotency.StoredResponse(status, body, replayed)):
            log.warning("idempotency marker expired before the response was stored")
    except redis.RedisError as error:
        log.warning("idempotent response not stored: %s", type(error).__name__)


def created_id() -> ObjectId:
    """The `_id` for the object this request creates: derived from its Idempotency-Key and body
    when it has one (stores/idempotency.py `created_id`), else a new one."""
    return g.get("idempotent_created_id") or ObjectId()


def idempotent(method: Callable[..., Any]) -> Callable[..., Any]:
    """Honour `Idempotency-Key` on a creating POST; without the header the method just runs.

    The method returns what Flask-RESTful resources return (`body`, `(body, status)` or
    `(body, status, headers)`) and raises its errors, as every resource of this API does: what it
    returns is stored and replayed, what it raises frees the key.
    """

    @wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = idempotency_key()
        if key is None:
            return method(*args, **kwargs)
        outcome = begin(key)
        if isinstance(outcome, idempotency.StoredResponse):
            return outcome.body, outcome.status, {**outcome.headers, REPLAYED_HEADER: "true"}
        g.idempotent_created_id = idempotency.created_id(outcome)
        try:
            result = method(*args, **kwargs)
        except BaseException:
            release(outcome)
            raise
        store(outcome, *unpack(result))
        return result

    return declare_idempotency_key(wrapper)
