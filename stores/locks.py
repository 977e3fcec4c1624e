"""Short per-document write locks in Redis, only where the database server needs them.

A conditional write (`If-Match`) puts the expected version in the write's own filter, which is
atomic on MongoDB (and on FerretDB 2 / DocumentDB). FerretDB 1.x runs `findAndModify` and
`delete` as a query followed by a write by `_id`, so two writers can both pass the same version
check there; holding a per-document lock around the write makes the check-and-write one step on
that engine too. This module docstring is the one place that reason is written down.

WRITE_LOCKS decides: `on`, `off`, or `auto` (the default), which asks the server once per process,
lazily on the first conditional write (never at start: the app must start while MongoDB is down),
and locks only on FerretDB 1.x and on the in-process stand-in (mongomock, which is not atomic
across threads). On MongoDB a conditional write takes no Redis lock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from flask import current_app
from pymongo.database import Database

from db import get_db
from extensions import get_redis
from stores.exceptions import Busy

log = logging.getLogger(__name__)

# The lock outlives any request holding it (uwsgi's harakiri cuts requests off at 30 s), so it
# only expires on its own when its holder died; a writer waits this long for it, then gets a 409.
LOCK_TTL_MS = 30_000
LOCK_WAIT_SECONDS = 5.0
LOCK_POLL_SECONDS = 0.005
DECIDED = "write_locks"


def lock_key(name: str) -> str:
    return f"lock:{name}"


def server_needs_locks(db: Database) -> bool:
    """Whether this database server runs findAndModify as a separate read and write."""
    if type(db.client).__module__.startswith("mongomock"):
        return True
    version = str(db.client.admin.command("buildInfo").get("ferretdbVersion", ""))
    return version.lstrip("v").startswith("1.")


def locks_enabled() -> bool:
    """WRITE_LOCKS for this app: `on`, `off`, or `auto` decided once per process."""
    mode = current_app.config.get("WRITE_LOCKS", "auto")
    if mode != "auto":
        return mode == "on"
    decided = current_app.extensions.get(DECIDED)
    if decided is None:
        decided = current_app.extensions[DECIDED] = server_needs_locks(get_db())
        log.info("write locks %s for this database server", "on" if decided else "off")
    return decided


@contextmanager
def write_lock(name: str, what: str) -> Iterator[None]:
    """Hold the lock `name` for the duration of one write, when locks are enabled.

    redis-py's Lock: a token in a `SET NX PX`, released by a script only by its holder, so a lock
    that expired and was taken by another writer is never deleted from under them. `what` names
    the record in the Busy (409) a writer gets after waiting LOCK_WAIT_SECONDS.
    """
    if not locks_enabled():
        yield
        return
    lock = get_redis().lock(
        lock_key(name),
        timeout=LOCK_TTL_MS / 1000,
        sleep=LOCK_POLL_SECONDS,
        blocking_timeout=LOCK_WAIT_SECONDS,
    )
    if not lock.acquire():
        raise Busy(what)
    try:
        yield
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            pass  # it expired and changed hands meanwhile: not ours to delete
        except redis.RedisError as error:
            # The write itself is done and must be reported as such; the lock expires on its own.
            log.warning("lock %s not released: %s", lock_key(name), type(error).__name__)
