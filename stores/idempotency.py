"""Idempotency records in Redis: what makes a retried create safe (the `Idempotency-Key` header).

One Redis key per (caller, method, path, client's key) holds one of two JSON values:

- an *in-progress marker* `{"state": "running", "request": <hash>, "token": <random>}`, written
  with `SET NX EX` (`begin`), so of any number of concurrent requests with the same key exactly
  one gets to run; it expires after MARKER_TTL seconds, so a request that died with its worker
  blocks its key for a bounded time only;
- the *stored response* `{"state": "done", "request": <hash>, "status", "body", "headers"}`,
  which replaces the marker (`finish`) and is kept for RESPONSE_TTL seconds.

`finish` and `abandon` act only while the key still holds the caller's own marker (a
compare-and-set in a Lua script, atomic in Redis), so a request that outlived its marker can
never overwrite or delete the record of the one that took the key over. Errors are never stored:
`abandon` deletes the marker and the client may retry. A failure may come after the object was
written (the database's answer lost on the way): `created_id` gives the retry the same `_id`, so
it finds that object rather than making another.

Redis errors propagate (the request answers 503 before anything is created). Nothing here knows
HTTP: outcomes are return values and this module's exceptions.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from bson import ObjectId

from extensions import get_redis

PREFIX = "idempotency"
# Longer than any request may run (uwsgi's harakiri cuts requests off at 30 s): a live request
# never loses its marker, and a dead one's key is free again after a minute.
MARKER_TTL = 60
RESPONSE_TTL = 24 * 3600
RUNNING = "running"
DONE = "done"

# KEYS[1] = the record, ARGV[1] = the caller's marker; ARGV[2], ARGV[3] = the response and TTL.
REPLACE_OWN_MARKER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
end
return false
"""
DELETE_OWN_MARKER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class InProgress(Exception):
    """The first request with this key is still running."""


class KeyReused(Exception):
    """The key was first used with another request body."""


@dataclass(frozen=True)
class StoredResponse:
    """A response worth replaying: status, JSON body and the headers to send again."""

    status: int
    body: Any
    headers: dict[str, str]


@dataclass(frozen=True)
class Claim:
    """The right to run the request, held through `marker` until `finish` or `abandon`."""

    key: str
    marker: str
    request_hash: str


def request_hash(body: Any) -> str:
    """The fingerprint of a parsed JSON body: bodies equal as JSON (key order, spacing and
    escapes aside) hash alike. ASCII-escaped, so any string, lone surrogates included, encodes."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def created_id(claim: Claim) -> ObjectId:
    """The `_id` of the object the claimed request creates: the same for every request of this
    caller with this key and an equal body, so that a retry after an answer lost on its way back
    finds the object the first attempt wrote (stores/insert_once.py) instead of making another.
    The key's record alone cannot tell: the failed first attempt freed it."""
    digest = hashlib.sha256(f"{claim.key}|{claim.request_hash}".encode("ascii")).digest()
    return ObjectId(digest[:12])


def record_key(scope: tuple[str, ...], idempotency_key: str) -> str:
    """The Redis key of one client key within `scope` (caller, method, path); hashed, so that
    no separator in a part can make two scopes meet and the key length stays fixed."""
    parts = json.dumps([*scope, idempotency_key], ensure_ascii=True)
    return f"{PREFIX}:{hashlib.sha256(parts.encode('ascii')).hexdigest()}"


def begin(scope: tuple[str, ...], idempotency_key: str, body_hash: str) -> Claim | StoredResponse:
    """Claim the key for a new request, or return the response stored for it.

    Raises InProgress while another request holds the key with the same body, KeyReused when the
    key was taken with another body (running or done).
    """
    key = record_key(scope, idempotency_key)
    marker = json.dumps({"state": RUNNING, "request": body_hash, "token": secrets.token_hex(16)})
    # One command: set the marker if the key is free, else read what holds it (Redis >= 7.0).
    existing = get_redis().set(key, marker, nx=True, ex=MARKER_TTL, get=True)
    if existing is None:
        return Claim(key, marker, body_hash)
    record = json.loads(existing)
    if record["request"] != body_hash:
        raise KeyReused(idempotency_key)
    if record["state"] == RUNNING:
        raise InProgress(idempotency_key)
    return StoredResponse(record["status"], record["body"], record["headers"])


def finish(claim: Claim, response: StoredResponse) -> bool:
    """Store the response in place of the claim's marker; False if the marker was gone."""
    record = json.dumps(
        {
            "state": DONE,
            "request": claim.request_hash,
            "status": response.status,
            "body": response.body,
            "headers": response.headers,
        }
    )
    replace = get_redis().register_script(REPLACE_OWN_MARKER)
    return bool(replace(keys=[claim.key], args=[claim.marker, record, RESPONSE_TTL]))


def abandon(claim: Claim) -> None:
    """Free the key (the request failed): the next request with it runs afresh."""
    get_redis().register_script(DELETE_OWN_MARKER)(keys=[claim.key], args=[claim.marker])
