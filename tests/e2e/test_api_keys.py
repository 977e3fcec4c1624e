"""API keys under uwsgi (2 workers) on FerretDB and Redis: created, listed and revoked with the
real CLI, refused on every worker once wrong or revoked, and never stored in clear."""

from __future__ import annotations

import bson
import pymongo
import pytest
import redis
import requests

from tests.e2e.helpers import (
    create_api_key,
    in_parallel,
    on_both_workers,
    revoke_api_key,
    secret_of,
    templates_url,
)
from tests.servers import LiveServer

REQUESTS = 60


def statuses_with(live_server: LiveServer, key: str) -> list[tuple[int, str | None]]:
    """REQUESTS concurrent list requests with `key`: (status, error code) of each."""

    def call(_: int) -> tuple[int, str | None]:
        response = requests.get(templates_url(live_server), headers={"X-API-KEY": key}, timeout=15)
        code = response.json().get("error", {}).get("code") if response.status_code >= 400 else None
        return response.status_code, code

    return in_parallel(REQUESTS, call)


def test_a_key_from_the_cli_opens_the_templates_api_on_every_worker(live_server):
    key = create_api_key(live_server)
    assert set(on_both_workers(live_server, lambda: statuses_with(live_server, key))) == {
        (200, None)
    }


@pytest.mark.parametrize(
    "wrong",
    ["tk_00000000_" + "A" * 43, "not-a-key"],
    ids=["well-formed-unknown", "malformed"],
)
def test_a_wrong_key_is_refused_on_every_worker(live_server, wrong):
    create_api_key(live_server)  # there are keys, just not this one
    assert set(on_both_workers(live_server, lambda: statuses_with(live_server, wrong))) == {
        (401, "invalid_credentials")
    }


def test_a_revoked_key_is_refused_on_every_worker_at_once(live_server):
    key = create_api_key(live_server)
    assert set(statuses_with(live_server, key)) == {(200, None)}
    revoke_api_key(live_server, key.split("_")[1])
    assert set(on_both_workers(live_server, lambda: statuses_with(live_server, key))) == {
        (401, "invalid_credentials")
    }


def test_revoking_one_key_leaves_the_others_working(live_server):
    kept, revoked = create_api_key(live_server, "kept"), create_api_key(live_server, "revoked")
    revoke_api_key(live_server, f"tk_{revoked.split('_')[1]}")
    assert set(statuses_with(live_server, kept)) == {(200, None)}


def test_cli_list_shows_the_key_used_and_revoked(live_server):
    key = create_api_key(live_server, "listed-owner")
    key_id = key.split("_")[1]
    statuses_with(live_server, key)
    revoke_api_key(live_server, key_id)
    listing = live_server.flask("apikeys", "list")
    assert listing.returncode == 0, listing.stderr
    (line,) = [row for row in listing.stdout.splitlines() if row.startswith(key_id)]
    _id, prefix, owner, created, last_used, revoked = line.split()
    assert (prefix, owner) == (f"tk_{key_id}_...", "listed-owner")
    assert created.endswith("Z") and last_used.endswith("Z") and revoked.endswith("Z")
    assert secret_of(key) not in listing.stdout


def redis_dump(url: str) -> bytes:
    """Every key name and value of one Redis database, whatever their types."""
    parts: list[bytes] = []
    with redis.Redis.from_url(url, socket_timeout=5) as client:
        for name in client.scan_iter(count=1000):
            parts.append(name)
            kind = client.type(name).decode()
            if kind == "string":
                parts.append(client.get(name) or b"")
            elif kind == "hash":
                parts += [b"%s=%s" % item for item in client.hgetall(name).items()]
            elif kind == "list":
                parts += client.lrange(name, 0, -1)
            elif kind in ("set", "zset"):
                parts += list(
                    client.smembers(name) if kind == "set" else client.zrange(name, 0, -1)
                )
    return b"\n".join(parts)


def mongo_dump(uri: str) -> bytes:
    """Every document of every collection of the app's database, as BSON."""
    with pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
        database = client.get_default_database()
        return b"".join(
            bson.encode(document)
            for name in database.list_collection_names()
            for document in database[name].find()
        )


def test_keys_are_never_stored_in_clear(start_live_server, http):
    # Rate limits on, so Redis also holds the limiter's counters for the key.
    live_server = start_live_server(RATELIMIT_ENABLED=True, DEFAULT_RATE_LIMIT=1000)
    key = create_api_key(live_server, "dump-check")
    headers = {"X-API-KEY": key}
    created = http.post(templates_url(live_server), json={"name": "dumped"}, headers=headers)
    assert created.status_code == 201
    assert http.get(f"{live_server.url}{created.headers['Location']}", headers=headers).ok
    assert http.get(templates_url(live_server), headers=headers).ok

    secret = secret_of(key).encode()
    in_redis, in_mongo = (
        redis_dump(live_server.env["REDIS_URL"]),
        mongo_dump(live_server.env["MONGO_URI"]),
    )
    assert b"cache:template:" in in_redis and b"apikey:" in in_redis  # the scan saw the data
    assert b"dump-check" in in_mongo and b"dumped" in in_mongo
    for stored in (in_redis, in_mongo, live_server.log_text().encode()):
        assert key.encode() not in stored
        assert secret not in stored
