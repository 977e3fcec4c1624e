"""The integration fixtures start real servers that survive a stop and come back on restart."""

from __future__ import annotations

import pymongo
import pytest
import redis
from pymongo.errors import PyMongoError

from tests.servers import FerretDBServer, RedisServer


def mongo_answers(uri: str) -> bool:
    try:
        with pymongo.MongoClient(uri, serverSelectionTimeoutMS=1000) as client:
            client.admin.command("ping")
    except PyMongoError:
        return False
    return True


def redis_answers(url: str) -> bool:
    try:
        with redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


def test_mongo_server_is_ferretdb_on_its_own_port(mongo_server: FerretDBServer) -> None:
    assert mongo_server.uri == f"mongodb://127.0.0.1:{mongo_server.port}/"
    assert mongo_server.port != 27017
    with mongo_server.client() as client:
        assert client.admin.command("ping")["ok"] == 1.0
        build = client.admin.command("buildInfo")
    assert build.get("ferretdbVersion") == "v1.24.2", "expected FerretDB, not another MongoDB"


def test_mongo_uri_names_a_fresh_database_that_round_trips_documents(mongo_uri: str) -> None:
    database = mongo_uri.rsplit("/", 1)[-1]
    assert database.startswith("t_")
    with pymongo.MongoClient(mongo_uri, serverSelectionTimeoutMS=2000) as client:
        db = client.get_default_database()
        assert db.name == database
        assert db.list_collection_names() == []
        inserted = db.things.insert_one({"name": "widget", "tags": ["a", "b"], "n": 3})
        found = db.things.find_one({"_id": inserted.inserted_id}, {"_id": 0})
    assert found == {"name": "widget", "tags": ["a", "b"], "n": 3}


def test_mongo_uri_databases_are_dropped_after_each_test(mongo_server: FerretDBServer) -> None:
    # The previous test's database must be gone: only this check's view of the server is used.
    with mongo_server.client() as client:
        leftovers = [name for name in client.list_database_names() if name.startswith("t_")]
    assert leftovers == []


def test_ferretdb_stops_and_restarts_on_the_same_port_with_its_data(
    mongo_server: FerretDBServer, mongo_uri: str
) -> None:
    port, uri = mongo_server.port, mongo_server.uri
    with pymongo.MongoClient(mongo_uri, serverSelectionTimeoutMS=2000) as client:
        client.get_default_database().things.insert_one({"_id": "kept", "v": 1})

    mongo_server.stop()
    try:
        assert not mongo_server.running
        assert not mongo_answers(uri)
    finally:
        mongo_server.start()

    assert (mongo_server.port, mongo_server.uri) == (port, uri)
    assert mongo_answers(uri)
    with pymongo.MongoClient(mongo_uri, serverSelectionTimeoutMS=2000) as client:
        assert client.get_default_database().things.find_one({"_id": "kept"}) == {
            "_id": "kept",
            "v": 1,
        }


def test_redis_url_round_trips_values(redis_server: RedisServer, redis_url: str) -> None:
    assert redis_url == f"redis://127.0.0.1:{redis_server.port}/0"
    with redis.Redis.from_url(redis_url, socket_timeout=2) as client:
        assert client.dbsize() == 0, "db 0 must be emptied between tests"
        client.set("greeting", "hello", ex=60)
        assert client.get("greeting") == b"hello"


def test_redis_url_is_emptied_after_each_test(redis_server: RedisServer, redis_url: str) -> None:
    with redis.Redis.from_url(redis_url, socket_timeout=2) as client:
        assert client.get("greeting") is None


def test_redis_stops_and_restarts_on_the_same_port(redis_server: RedisServer) -> None:
    url = redis_server.url
    assert redis_answers(url)

    redis_server.stop()
    try:
        assert not redis_server.running
        assert not redis_answers(url)
    finally:
        redis_server.start()

    assert redis_server.url == url
    assert redis_answers(url)


@pytest.mark.parametrize("fixture_name", ["ferretdb_server", "mongo_server"])
def test_both_names_give_the_same_ferretdb(
    request: pytest.FixtureRequest, fixture_name: str, ferretdb_server: FerretDBServer
) -> None:
    assert request.getfixturevalue(fixture_name) is ferretdb_server
