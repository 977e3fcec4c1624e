"""`/templates` under uwsgi (2 workers) on FerretDB and Redis: CRUD with a JWT and with an API
key, the shared cache really serving reads, and read-after-write coherence across workers."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pymongo
import pytest
import redis
import requests

from tests.e2e.helpers import (
    at_once,
    create_api_key,
    in_parallel,
    login_headers,
    on_both_workers,
    templates_url,
)
from tests.servers import LiveServer

ROUNDS = 100


@pytest.fixture
def jwt_headers(live_server, http) -> dict[str, str]:
    return login_headers(live_server, http)


@pytest.fixture(scope="module")
def key_headers(live_server) -> dict[str, str]:
    return {"X-API-KEY": create_api_key(live_server)}


def crud_round_trip(
    live_server: LiveServer, http: requests.Session, headers: dict[str, str]
) -> None:
    created = http.post(
        templates_url(live_server), json={"name": "Welcome", "content": "Hi {{n}}"}, headers=headers
    )
    assert created.status_code == 201, created.text
    template = created.json()
    url = f"{live_server.url}{created.headers['Location']}"
    assert url.endswith(template["templateid"])

    read = http.get(url, headers=headers)
    assert (read.status_code, read.json()) == (200, template)
    assert (
        http.get(url, headers={**headers, "If-None-Match": read.headers["ETag"]}).status_code == 304
    )

    replaced = http.put(url, json={"name": "Welcome v2"}, headers=headers)
    assert replaced.status_code == 200
    assert (replaced.json()["name"], replaced.json()["content"]) == ("Welcome v2", "")

    patched = http.patch(url, json={"description": "onboarding"}, headers=headers)
    assert patched.status_code == 200
    assert http.get(url, headers=headers).json() == patched.json()

    listed = http.get(templates_url(live_server), params={"q": "welcome v"}, headers=headers)
    assert [t["templateid"] for t in listed.json()["items"]] == [template["templateid"]]

    deleted = http.delete(url, headers=headers)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert http.get(url, headers=headers).status_code == 404


def test_crud_with_a_jwt(live_server, http, jwt_headers):
    crud_round_trip(live_server, http, jwt_headers)


def test_crud_with_an_api_key(live_server, http, key_headers):
    crud_round_trip(live_server, http, key_headers)


def test_created_by_an_api_key_names_the_key_id_and_owner(live_server, http, key_headers):
    created = http.post(templates_url(live_server), json={"name": "k"}, headers=key_headers).json()
    key_id = key_headers["X-API-KEY"].split("_")[1]
    assert created["created_by"] == {"type": "api_key", "id": key_id, "owner": "e2e-bot"}


def redis_client(live_server: LiveServer) -> redis.Redis:
    return redis.Redis.from_url(live_server.env["REDIS_URL"], socket_timeout=5)


def mongo_templates(live_server: LiveServer):
    client = pymongo.MongoClient(live_server.env["MONGO_URI"], serverSelectionTimeoutMS=5000)
    return client, client.get_default_database().templates


def test_reads_are_served_from_the_redis_cache(live_server, http, key_headers):
    created = http.post(templates_url(live_server), json={"name": "cached"}, headers=key_headers)
    url = f"{live_server.url}{created.headers['Location']}"
    templateid = created.json()["templateid"]
    assert http.get(url, headers=key_headers).json()["name"] == "cached"

    with redis_client(live_server) as cache:
        assert cache.exists(f"cache:template:{templateid}")
        assert cache.exists(f"cache:template:{templateid}:gen")
    # Changed in MongoDB behind the app's back: only a cache can still answer the old name.
    client, collection = mongo_templates(live_server)
    with client:
        collection.update_one({"templateid": templateid}, {"$set": {"name": "db only"}})
    assert {http.get(url, headers=key_headers).json()["name"] for _ in range(10)} == {"cached"}


def test_read_after_write_never_sees_the_old_version_on_any_worker(live_server, http, key_headers):
    """A writer updates a template and reads it straight back, 100 times, while three readers
    keep reading (and re-caching) the same template on both workers: a reader that loaded the
    old version just before a write must never get it served after the write."""
    created = http.post(templates_url(live_server), json={"name": "v-1"}, headers=key_headers)
    url = f"{live_server.url}{created.headers['Location']}"
    stop = threading.Event()

    def keep_reading(_: int) -> int:
        reads = 0
        with requests.Session() as session:
            while not stop.is_set():
                assert session.get(url, headers=key_headers, timeout=15).status_code == 200
                reads += 1
        return reads

    def rounds() -> list[tuple[str, str]]:
        stale = []
        stop.clear()
        with ThreadPoolExecutor(max_workers=3) as readers:
            counts = readers.map(keep_reading, range(3))
            try:
                for round_number in range(ROUNDS):
                    name = f"v{round_number}"
                    written = http.patch(url, json={"name": name}, headers=key_headers)
                    assert written.status_code == 200, written.text
                    seen = http.get(url, headers=key_headers).json()["name"]
                    if seen != name:
                        stale.append((name, seen))
            finally:
                stop.set()
            assert all(count > 0 for count in counts)
        return stale

    assert on_both_workers(live_server, rounds) == []


def test_a_write_by_one_client_is_seen_by_all_others_at_once(live_server, http, key_headers):
    created = http.post(templates_url(live_server), json={"name": "start"}, headers=key_headers)
    url = f"{live_server.url}{created.headers['Location']}"
    for round_number in range(10):
        in_parallel(8, lambda _: requests.get(url, headers=key_headers, timeout=15))  # warm
        name = f"round {round_number}"
        assert http.patch(url, json={"name": name}, headers=key_headers).status_code == 200
        seen = in_parallel(
            8, lambda _: requests.get(url, headers=key_headers, timeout=15).json()["name"]
        )
        assert set(seen) == {name}


def test_concurrent_patches_with_the_same_if_match_exactly_one_wins(live_server, http, jwt_headers):
    created = http.post(templates_url(live_server), json={"name": "contested"}, headers=jwt_headers)
    url = f"{live_server.url}{created.headers['Location']}"
    for round_number in range(20):
        headers = {**jwt_headers, "If-Match": http.get(url, headers=jwt_headers).headers["ETag"]}
        names = [f"r{round_number}-a", f"r{round_number}-b"]
        results = at_once(
            {
                name: lambda name=name, headers=headers: requests.patch(
                    url, json={"name": name}, headers=headers, timeout=15
                )
                for name in names
            }
        )
        assert sorted(r.status_code for r in results.values()) == [200, 412]
        winner = next(name for name, r in results.items() if r.status_code == 200)
        assert http.get(url, headers=jwt_headers).json()["name"] == winner
