"""Single-template reads served from the shared cache (Flask-Caching: Redis, or in-process when
embedded), coherent with writes across every worker and instance.

The race a plain "delete the key after the write" cache loses: a reader misses, reads version 1
from MongoDB, a writer stores version 2 and deletes the key, then the reader stores version 1,
and every read for the next minutes answers the old version. Here each template has a
*generation* key holding a random token, which every write replaces after its MongoDB write
(and before it, see `invalidate`). A cache entry is tagged with the generation the reader saw
*before* it read MongoDB, and a hit is served only while its tag is still the current
generation. Tokens are unique, so the check is an equality: if the generation still equals the
tag, no write has finished since the reader looked, so the document it read is at least as new
as every acknowledged write; a late reader's old document carries an old tag and is never served.
A missing generation (evicted, expired) matches nothing, so losing it costs misses, never
correctness. A hit is one round trip: an MGET of the entry and the generation.

List pages are not cached: any write anywhere in the catalog can change any page (a new name
sorts in, a deleted one drops out), keys would multiply with every prefix, sort and cursor, and a
page is already one bounded index range scan in MongoDB.

Redis errors are not swallowed: an unreachable cache answers 503 like the rest of the API,
instead of every worker waiting out socket timeouts and falling on MongoDB all at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from extensions import cache

# Entries live five minutes; generations a day, so that they outlive the entries tagged with
# them (an expired generation only turns the entries of that template into misses).
ENTRY_TTL = 300
GENERATION_TTL = 24 * 3600


@dataclass(frozen=True)
class CachedTemplate:
    """What a read needs, ready to send: the rendered body and its ETag's opaque tag."""

    body: dict[str, Any]
    etag: str
    from_cache: bool = False


def entry_key(templateid: str) -> str:
    return f"template:{templateid}"


def generation_key(templateid: str) -> str:
    return f"template:{templateid}:gen"


def _new_token() -> str:
    return secrets.token_hex(8)


def _current_generation(templateid: str, seen: str | None) -> str | None:
    """The generation to tag a fill with: the one seen, else a new one (None if that fails)."""
    if seen is not None:
        return seen
    token = _new_token()
    if cache.add(generation_key(templateid), token, timeout=GENERATION_TTL):
        return token
    return cache.get(generation_key(templateid))  # another reader or a writer set it first


def read_template(
    templateid: str,
    load: Callable[[], Mapping[str, Any] | None],
    render: Callable[[Mapping[str, Any]], dict[str, Any]],
    etag: Callable[[Mapping[str, Any]], str],
) -> CachedTemplate | None:
    """The template from the cache, else `load()` from MongoDB (and cached); None if missing."""
    entry, generation = cache.get_many(entry_key(templateid), generation_key(templateid))
    if generation is not None and isinstance(entry, dict) and entry.get("tag") == generation:
        return CachedTemplate(entry["body"], entry["etag"], from_cache=True)
    # The generation must be known before MongoDB is read: that order is the coherence proof.
    generation = _current_generation(templateid, generation)
    document = load()
    if document is None:
        return None
    fresh = CachedTemplate(render(document), etag(document))
    if generation is not None:
        cache.set(
            entry_key(templateid),
            {"tag": generation, "body": fresh.body, "etag": fresh.etag},
            timeout=ENTRY_TTL,
        )
    return fresh


def invalidate(templateid: str) -> None:
    """Make every cached copy of the template stale, on every worker: a new generation.

    Writers call it before their MongoDB write, so that with Redis unreachable a write fails
    with 503 before changing anything (rather than after, leaving a stale copy that would be
    served once Redis is back), and `forget` after it, which is what readers rely on.
    """
    cache.set(generation_key(templateid), _new_token(), timeout=GENERATION_TTL)


def forget(templateid: str) -> None:
    """After a write: a new generation, and the dead entry dropped to free its memory now."""
    invalidate(templateid)
    cache.delete(entry_key(templateid))


@contextmanager
def writing(templateid: str) -> Iterator[None]:
    """Around a write of the template: `invalidate` before it, `forget` once it is done."""
    invalidate(templateid)
    yield
    forget(templateid)
