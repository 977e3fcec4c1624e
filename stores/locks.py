"""Short write locks in Redis, for check-and-write steps that must be one step on any engine.

A conditional write (`If-Match`) puts the expected version in the write's own filter, which is
atomic on MongoDB. FerretDB 1.x runs `findAndModify` and `delete` as a query followed by a write
by `_id`, so two writers can both pass the same version check there; holding a per-document
lock around the write makes the check-and-write one step on every engine. Redis is already on
every authenticated request's path, so the lock adds no new dependency.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from extensions import get_redis
from stores.exceptions import Busy

log = logging.getLogger(__name__)

# The lock outlives any request holding it (uwsgi's harakiri cuts requests off at 30 s), so it
# only expires on its own when its holder died; a writer waits this long for it, then gets a 409.
LOCK_TTL_MS = 30_000
LOCK_WAIT_SECONDS = 5.0
LOCK_POLL_SECONDS = 0.005


def lock_key(name: str) -> str:
    return f"lock:{name}"


@contextmanager
def write_lock(name: str, what: str = "resource") -> Iterator[None]:
    """Hold the lock `name` (Redis `SET NX` with a TTL) for the duration of one write.

    Released only by its holder (a token compared under WATCH), so a lock that expired and was
    taken by another writer is never deleted from under them. `what` names the resource in the
    409 a writer gets after waiting LOCK_WAIT_SECONDS.
    """
    client = get_redis()
    key = lock_key(name)
    token = uuid.uuid4().hex.encode()
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while not client.set(key, token, nx=True, px=LOCK_TTL_MS):
        if time.monotonic() >= deadline:
            raise Busy(what)
        time.sleep(LOCK_POLL_SECONDS)
    try:
        yield
    finally:
        _release(client, key, token)


def _release(client: redis.Redis, key: str, token: bytes) -> None:
    with client.pipeline() as pipe:
        try:
            pipe.watch(key)
            if pipe.get(key) == token:
                pipe.multi()
                pipe.delete(key)
                pipe.execute()
        except redis.WatchError:
            pass  # it expired and changed hands meanwhile: not ours to delete
        except redis.RedisError as error:
            # The write itself is done and must be reported as such; the lock expires on its own.
            log.warning("lock %s not released: %s", key, type(error).__name__)
