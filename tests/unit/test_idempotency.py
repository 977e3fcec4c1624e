"""`Idempotency-Key` on the creating POSTs (todos, templates, register), on fakeredis: replays,
key reuse, requests in progress, malformed keys, errors left unstored, scoping, rate limits,
Redis failures, and the records' lifetimes in Redis."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import mongomock
import pymongo.errors
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

import resources.todos
import stores.idempotency as records
from db import get_db
from extensions import get_redis
from schemas.todos import TodoInputSchema
from services.api_keys import create_api_key
from tests.servers import free_port
from tests.support import REGISTER, TEMPLATES, TODOS

KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
TODO = {"title": "Buy milk", "tags": ["shop"], "due": "2030-01-31"}
ACCOUNT = {"username": "ada", "email": "ada@example.com", "password": "correct horse", "name": "A"}


@pytest.fixture
def headers(user, auth_headers):
    return auth_headers(user)


def with_key(headers: dict[str, str], key: str = "key-1") -> dict[str, str]:
    return {**headers, KEY: key}


def count(app, collection: str) -> int:
    with app.app_context():
        return get_db()[collection].count_documents({})


def record_keys(app) -> list[bytes]:
    with app.app_context():
        return list(get_redis().scan_iter(f"{records.PREFIX}:*"))


# --- replays --------------------------------------------------------------------------------------


def test_without_the_header_every_post_creates(app, client, headers):
    assert client.post(TODOS, json=TODO, headers=headers).status_code == 201
    assert client.post(TODOS, json=TODO, headers=headers).status_code == 201
    assert count(app, "todos") == 2
    assert record_keys(app) == []


def test_a_retry_replays_the_first_response_and_creates_nothing(app, client, headers):
    first = client.post(TODOS, json=TODO, headers=with_key(headers))
    again = client.post(TODOS, json=TODO, headers=with_key(headers))
    assert first.status_code == again.status_code == 201
    assert REPLAYED not in first.headers
    assert again.headers[REPLAYED] == "true"
    assert again.get_json() == first.get_json()
    for name in ("Location", "ETag"):
        assert again.headers[name] == first.headers[name]
    assert count(app, "todos") == 1


def test_a_body_equal_as_json_is_the_same_request(app, client, headers):
    sent = '{"title": "Buy milk", "tags": ["shop"], "due": "2030-01-31"}'
    reordered = '{ "due":"2030-01-31","tags":[ "shop" ],\n"title":"Buy \\u006dilk"}'
    first = client.post(
        TODOS, data=sent, content_type="application/json", headers=with_key(headers)
    )
    again = client.post(
        TODOS, data=reordered, content_type="application/json", headers=with_key(headers)
    )
    assert again.headers[REPLAYED] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert count(app, "todos") == 1


def test_a_replay_neither_validates_nor_creates_again(client, headers, monkeypatch):
    calls = {"load": 0, "insert": 0}
    load, insert = TodoInputSchema.load, resources.todos.insert_todo

    def counting_load(self, *args, **kwargs):
        calls["load"] += 1
        return load(self, *args, **kwargs)

    def counting_insert(document):
        calls["insert"] += 1
        return insert(document)

    monkeypatch.setattr(TodoInputSchema, "load", counting_load)
    monkeypatch.setattr(resources.todos, "insert_todo", counting_insert)
    client.post(TODOS, json=TODO, headers=with_key(headers))
    replay = client.post(TODOS, json=TODO, headers=with_key(headers))
    assert replay.headers[REPLAYED] == "true"
    assert calls == {"load": 1, "insert": 1}


def test_the_same_key_with_another_body_is_422_and_creates_nothing(app, client, headers):
    client.post(TODOS, json=TODO, headers=with_key(headers))
    response = client.post(TODOS, json={**TODO, "title": "Buy bread"}, headers=with_key(headers))
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "idempotency_key_reused"
    assert count(app, "todos") == 1


def test_templates_replay_with_an_api_key_and_with_a_token(app, client, headers):
    with app.app_context():
        key_headers = {"X-API-KEY": create_api_key("ci-bot")[1]}
    for caller in (key_headers, headers):
        first = client.post(TEMPLATES, json={"name": "Welcome"}, headers=with_key(caller))
        again = client.post(TEMPLATES, json={"name": "Welcome"}, headers=with_key(caller))
        assert first.status_code == again.status_code == 201
        assert again.headers[REPLAYED] == "true"
        assert again.get_json() == first.get_json()
        for name in ("Location", "ETag", "Cache-Control"):
            assert again.headers[name] == first.headers[name]
    assert count(app, "templates") == 2


def test_register_replays_the_same_user(app, client):
    first = client.post(REGISTER, json=ACCOUNT, headers={KEY: "signup-1"})
    again = client.post(REGISTER, json=ACCOUNT, headers={KEY: "signup-1"})
    assert first.status_code == again.status_code == 201
    assert again.headers[REPLAYED] == "true"
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert count(app, "users") == 1


# --- scope ----------------------------------------------------------------------------------------


def test_keys_are_per_caller(app, client, make_user, auth_headers, headers):
    other = auth_headers(make_user()[0])
    mine = client.post(TODOS, json=TODO, headers=with_key(headers))
    theirs = client.post(TODOS, json=TODO, headers=with_key(other))
    assert theirs.status_code == 201 and REPLAYED not in theirs.headers
    assert theirs.get_json()["id"] != mine.get_json()["id"]
    assert count(app, "todos") == 2


def test_keys_are_per_path(app, client, headers):
    client.post(TODOS, json={"title": "x"}, headers=with_key(headers))
    template = client.post(TEMPLATES, json={"name": "x"}, headers=with_key(headers))
    assert template.status_code == 201 and REPLAYED not in template.headers
    assert count(app, "todos") == count(app, "templates") == 1


def test_register_keys_are_per_client_address(client):
    client.post(REGISTER, json=ACCOUNT, headers={KEY: "k"})
    elsewhere = client.post(
        REGISTER, json=ACCOUNT, headers={KEY: "k"}, environ_base={"REMOTE_ADDR": "192.0.2.7"}
    )
    # Not a replay: the request ran, and met the account the first one created.
    assert elsewhere.status_code == 409
    assert elsewhere.get_json()["error"]["code"] == "conflict"


# --- malformed keys -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["", " ", "has space", "x" * 256, "tab\there", "caf\u00e9", "del\x7f"],
    ids=["empty", "blank", "space", "256-chars", "control", "non-ascii", "del"],
)
def test_a_malformed_key_is_400_and_creates_nothing(app, client, headers, key):
    response = client.post(TODOS, json=TODO, headers=with_key(headers, key))
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"
    assert "Idempotency-Key" in response.get_json()["error"]["message"]
    assert count(app, "todos") == 0
    assert record_keys(app) == []


@pytest.mark.parametrize("key", ["x", "~" * 255, '"8e03978e-40d5-43e8"', "a:b/c?d=e!"])
def test_keys_of_1_to_255_visible_characters_are_accepted(client, headers, key):
    assert client.post(TODOS, json=TODO, headers=with_key(headers, key)).status_code == 201
    assert client.post(TODOS, json=TODO, headers=with_key(headers, key)).headers[REPLAYED]


# --- errors are not stored ------------------------------------------------------------------------


def test_a_refused_body_leaves_the_key_free_for_the_fixed_request(app, client, headers):
    refused = client.post(TODOS, json={"title": ""}, headers=with_key(headers))
    assert refused.status_code == 422
    assert refused.get_json()["error"]["code"] == "validation_error"
    fixed = client.post(TODOS, json=TODO, headers=with_key(headers))
    assert fixed.status_code == 201 and REPLAYED not in fixed.headers
    assert count(app, "todos") == 1


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [("{not json", "application/json", 400), ("title=x", "text/plain", 415)],
)
def test_an_unreadable_body_is_refused_as_without_a_key(
    client, headers, data, content_type, status
):
    plain = client.post(TODOS, data=data, content_type=content_type, headers=headers)
    keyed = client.post(TODOS, data=data, content_type=content_type, headers=with_key(headers))
    assert plain.status_code == keyed.status_code == status
    assert keyed.get_json() == plain.get_json()
    assert client.post(TODOS, json=TODO, headers=with_key(headers)).status_code == 201


def test_a_body_with_a_lone_surrogate_is_a_422_naming_the_field(client, headers):
    body = '{"title": "\\ud800"}'
    response = client.post(
        TODOS, data=body, content_type="application/json", headers=with_key(headers)
    )
    assert response.status_code == 422
    assert "title" in response.get_json()["error"]["details"]


def test_a_conflict_is_not_stored(app, client, make_user):
    make_user("ada")
    taken = client.post(REGISTER, json=ACCOUNT, headers={KEY: "k"})
    assert taken.status_code == 409
    renamed_account = {**ACCOUNT, "username": "ada2", "email": "ada2@example.com"}
    renamed = client.post(REGISTER, json=renamed_account, headers={KEY: "k"})
    assert renamed.status_code == 201 and REPLAYED not in renamed.headers


def test_a_503_is_not_stored_and_the_retry_creates_once(app, client, headers, monkeypatch):
    insert = resources.todos.insert_todo

    def database_down(document):
        raise pymongo.errors.ServerSelectionTimeoutError("down")

    monkeypatch.setattr(resources.todos, "insert_todo", database_down)
    down = client.post(TODOS, json=TODO, headers=with_key(headers))
    assert down.status_code == 503
    assert down.get_json()["error"]["code"] == "service_unavailable"
    monkeypatch.setattr(resources.todos, "insert_todo", insert)
    retry = client.post(TODOS, json=TODO, headers=with_key(headers))
    assert retry.status_code == 201 and REPLAYED not in retry.headers
    assert client.post(TODOS, json=TODO, headers=with_key(headers)).headers[REPLAYED] == "true"
    assert count(app, "todos") == 1


@pytest.mark.parametrize(("path", "body"), [(TODOS, TODO), (TEMPLATES, {"name": "Welcome"})])
def test_a_create_written_but_never_acknowledged_is_not_made_twice_by_its_retry(
    app, client, headers, monkeypatch, path, body
):
    # Found by the fault stage (tests/e2e/test_faults.py): FerretDB stopped after writing a todo
    # but before acknowledging it, the client saw a 503, and its retry with the same key made a
    # second todo.
    insert_one = mongomock.collection.Collection.insert_one

    def written_then_lost(collection, document, *args, **kwargs):
        insert_one(collection, document, *args, **kwargs)
        raise pymongo.errors.AutoReconnect("connection closed")

    monkeypatch.setattr(mongomock.collection.Collection, "insert_one", written_then_lost)
    lost = client.post(path, json=body, headers=with_key(headers))
    assert lost.status_code == 503
    monkeypatch.setattr(mongomock.collection.Collection, "insert_one", insert_one)

    retry = client.post(path, json=body, headers=with_key(headers))
    replay = client.post(path, json=body, headers=with_key(headers))
    other = client.post(path, json=body, headers=with_key(headers, "key-2"))

    collection = path.rsplit("/", 1)[1]
    assert retry.status_code == 201 and REPLAYED not in retry.headers
    assert replay.headers[REPLAYED] == "true" and replay.get_json() == retry.get_json()
    assert other.status_code == 201 and other.get_json() != retry.get_json()
    assert count(app, collection) == 2  # the first attempt's, found by the retry, and key-2's


# --- concurrent retries ---------------------------------------------------------------------------


class HeldRequest:
    """A request running in another thread, held until `finish()`, which returns its response."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.future = None

    def finish(self):
        self.released.set()
        return self.future.result(timeout=10)


class TestRetryWhileTheFirstRuns:
    """With rate limits on, so that the limiter's own Retry-After (its window's reset) is
    there to be overridden."""

    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "RATELIMIT_ENABLED": True, "DEFAULT_RATE_LIMIT": 50}

    @pytest.fixture
    def first_running(self, app, client, headers, monkeypatch):
        """A first POST with the key, held inside the todo insert until `.finish()`."""
        inserting = threading.Event()
        insert = resources.todos.insert_todo
        held = HeldRequest()

        def held_insert(document):
            inserting.set()
            held.released.wait(timeout=10)
            return insert(document)

        monkeypatch.setattr(resources.todos, "insert_todo", held_insert)
        with ThreadPoolExecutor(max_workers=1) as pool:
            held.future = pool.submit(client.post, TODOS, json=TODO, headers=with_key(headers))
            assert inserting.wait(timeout=10)
            yield held
            held.released.set()

    def test_is_409_request_in_progress_with_retry_after_1(
        self, app, client, headers, first_running
    ):
        response = client.post(TODOS, json=TODO, headers=with_key(headers))
        assert response.status_code == 409
        assert response.get_json()["error"]["code"] == "request_in_progress"
        assert response.headers["Retry-After"] == "1"
        assert count(app, "todos") == 0

    def test_with_another_body_is_422(self, client, headers, first_running):
        response = client.post(TODOS, json={"title": "other"}, headers=with_key(headers))
        assert response.status_code == 422
        assert response.get_json()["error"]["code"] == "idempotency_key_reused"

    def test_is_replayed_once_the_first_is_done(self, app, client, headers, first_running):
        assert client.post(TODOS, json=TODO, headers=with_key(headers)).status_code == 409
        first = first_running.finish()
        assert first.status_code == 201
        again = client.post(TODOS, json=TODO, headers=with_key(headers))
        assert again.headers[REPLAYED] == "true"
        assert again.get_json()["id"] == first.get_json()["id"]
        assert count(app, "todos") == 1

    def test_other_409s_carry_no_retry_after(self, client, make_user):
        make_user("ada")
        taken = client.post(REGISTER, json=ACCOUNT, headers={KEY: "k"})
        assert taken.status_code == 409
        assert "Retry-After" not in taken.headers


# --- rate limits and Redis ------------------------------------------------------------------------


class TestRateLimits:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "RATELIMIT_ENABLED": True, "DEFAULT_RATE_LIMIT": 3}

    def test_a_replay_spends_the_budget_like_any_request(self, client, headers):
        statuses = [
            client.post(TODOS, json=TODO, headers=with_key(headers)).status_code for _ in range(4)
        ]
        assert statuses == [201, 201, 201, 429]


def test_redis_down_is_503_and_creates_nothing(app, client):
    app.extensions["redis"] = redis.Redis(port=free_port(), retry=Retry(NoBackoff(), 0))
    response = client.post(REGISTER, json=ACCOUNT, headers={KEY: "k"})
    assert response.status_code == 503
    assert response.get_json()["error"]["details"] == {"unavailable": ["redis"]}
    assert count(app, "users") == 0


def test_a_response_redis_could_not_store_is_still_answered(app, client, monkeypatch):
    def redis_gone(claim, response):
        raise redis.ConnectionError("gone")

    monkeypatch.setattr(records, "finish", redis_gone)
    response = client.post(REGISTER, json=ACCOUNT, headers={KEY: "k"})
    assert response.status_code == 201
    assert count(app, "users") == 1


def test_the_marker_expires_within_a_minute_and_the_response_within_a_day(app, client, headers):
    scope = ("user:x", "POST", TODOS)
    with app.app_context():
        claim = records.begin(scope, "crashed", records.request_hash(TODO))
        assert 0 < get_redis().ttl(claim.key) <= records.MARKER_TTL == 60
    client.post(TODOS, json=TODO, headers=with_key(headers, "done"))
    with app.app_context():
        [done] = [key for key in record_keys(app) if key.decode() != claim.key]
        assert records.MARKER_TTL < get_redis().ttl(done) <= records.RESPONSE_TTL == 24 * 3600


def test_a_request_that_outlived_its_marker_overwrites_nothing(app):
    scope = ("user:x", "POST", TODOS)
    body_hash = records.request_hash(TODO)
    response = records.StoredResponse(201, {"id": "late"}, {})
    with app.app_context():
        late = records.begin(scope, "k", body_hash)
        get_redis().delete(late.key)  # its marker expired
        current = records.begin(scope, "k", body_hash)
        assert records.finish(late, response) is False
        records.abandon(late)
        with pytest.raises(records.InProgress):
            records.begin(scope, "k", body_hash)
        assert records.finish(current, records.StoredResponse(201, {"id": "now"}, {}))
        assert records.begin(scope, "k", body_hash).body == {"id": "now"}


# --- documentation and CORS -----------------------------------------------------------------------

CREATING_POSTS = ("/api/v1/todos", "/api/v1/templates", "/api/v1/auth/register")


def test_the_creating_posts_document_the_header_and_its_409_and_422(client):
    document = client.get("/api/v1/openapi.json").get_json()
    components = document["components"]["responses"]
    for path in CREATING_POSTS:
        operation = document["paths"][path]["post"]
        [parameter] = [p for p in operation["parameters"] if p["in"] == "header"]
        assert parameter["name"] == KEY and parameter["schema"]["maxLength"] == 255
        responses = {
            status: components[ref["$ref"].rsplit("/", 1)[-1]]
            for status, ref in operation["responses"].items()
            if status in ("409", "422")
        }
        conflict, invalid = responses["409"], responses["422"]
        assert "request_in_progress" in conflict["content"]["application/json"]["examples"]
        assert "Retry-After" in conflict["headers"]
        assert "idempotency_key_reused" in invalid["content"]["application/json"]["examples"]
    for path, method in (("/api/v1/todos", "get"), ("/api/v1/todos/{todo_id}", "patch")):
        parameters = document["paths"][path][method].get("parameters", [])
        assert KEY not in [parameter.get("name") for parameter in parameters]


class TestCors:
    ORIGIN = "https://app.example.com"

    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "CORS_ORIGINS": self.ORIGIN}

    def test_browsers_may_send_the_key_and_read_the_replay_header(self, client, headers):
        preflight = client.options(
            TODOS,
            headers={
                "Origin": self.ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": f"Authorization, Content-Type, {KEY}",
            },
        )
        assert KEY.lower() in preflight.headers["Access-Control-Allow-Headers"].lower()
        replay_headers = {**with_key(headers), "Origin": self.ORIGIN}
        client.post(TODOS, json=TODO, headers=replay_headers)
        replay = client.post(TODOS, json=TODO, headers=replay_headers)
        assert replay.headers[REPLAYED] == "true"
        assert REPLAYED in replay.headers["Access-Control-Expose-Headers"]
