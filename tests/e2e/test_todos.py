"""Todos over real HTTP: the app under uwsgi (2 workers) on FerretDB and redis-server.

Data stays small (FerretDB scans every query). Users come from the real register and login
endpoints.
"""

from __future__ import annotations

import itertools

import pytest
import requests

from tests.e2e.helpers import at_once, bearer, login, register
from tests.servers import LiveServer
from tests.support import TODO_FIELDS

MALFORMED_IDS = ["not-an-id", "0123456789abcdef0123456", "0123456789abcdef012345678"]
UNKNOWN_ID = "0123456789abcdef01234567"


def sign_up(http: requests.Session, live_server: LiveServer) -> dict[str, str]:
    """Register and log in a fresh user; returns their Authorization header."""
    account = register(http, live_server)
    return bearer(login(http, live_server, account)["access_token"])


class TodosApi:
    """`api(method, path_under_todos="", **requests_kwargs)` as one user; `.headers` holds
    their Authorization header."""

    def __init__(self, live_server: LiveServer, headers: dict[str, str]) -> None:
        self.url = f"{live_server.url}/api/v1/todos"
        self.headers = headers

    def __call__(self, method: str, path: str = "", **kwargs) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        timeout = kwargs.pop("timeout", 15)
        return requests.request(
            method, f"{self.url}{path}", headers=headers, timeout=timeout, **kwargs
        )


def api_for(http: requests.Session, live_server: LiveServer) -> TodosApi:
    return TodosApi(live_server, sign_up(http, live_server))


@pytest.fixture
def alice(http, live_server) -> TodosApi:
    return api_for(http, live_server)


@pytest.fixture
def bob(http, live_server) -> TodosApi:
    return api_for(http, live_server)


def create(api: TodosApi, title: str = "todo", **fields) -> dict:
    response = api("POST", json={"title": title, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def titles(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["title"] for item in response.json()["items"]]


# --- single todos -------------------------------------------------------------------------------


def test_crud_round_trip(alice):
    created = alice("POST", json={"title": "Trip", "due": "2030-01-02", "tags": ["t"]})
    assert created.status_code == 201
    todo = created.json()
    assert created.headers["Location"] == f"/api/v1/todos/{todo['id']}"
    path = f"/{todo['id']}"

    read = alice("GET", path)
    assert read.status_code == 200 and read.json() == todo
    assert read.headers["ETag"] == created.headers["ETag"]

    replaced = alice("PUT", path, json={"title": "Trip 2", "done": True})
    assert replaced.status_code == 200
    assert (replaced.json()["title"], replaced.json()["due"], replaced.json()["tags"]) == (
        "Trip 2",
        None,
        [],
    )

    patched = alice("PATCH", path, json={"description": "by train"})
    assert patched.status_code == 200
    assert patched.json()["done"] is True and patched.json()["description"] == "by train"
    assert patched.json()["created"] == todo["created"]
    assert patched.json()["updated"] > replaced.json()["updated"] > todo["updated"]

    deleted = alice("DELETE", path)
    assert deleted.status_code == 204 and deleted.content == b""
    assert alice("GET", path).status_code == 404


def test_todo_object_shape_and_owner(alice):
    todo = create(alice, "Shape")
    assert list(todo) == TODO_FIELDS
    assert set(todo["owner"]) == {"id", "username"} and todo["owner"]["username"].startswith("u")
    assert todo["created"].endswith("Z")


@pytest.mark.parametrize(
    ("method", "body"),
    [("GET", None), ("PUT", {"title": "taken"}), ("PATCH", {"done": True}), ("DELETE", None)],
)
def test_another_users_todo_is_404_for_every_verb(alice, bob, method, body):
    todo = create(alice, "Alice's")
    response = bob(method, f"/{todo['id']}", json=body)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert alice("GET", f"/{todo['id']}").json() == todo


def test_another_users_todos_never_appear_in_lists(alice, bob):
    create(alice, "Alice's", tags=["x"])
    assert bob("GET").json()["items"] == []
    assert bob("GET", params={"tag": "x", "q": "alice"}).json()["items"] == []
    assert bob("GET", params={"page": 1, "per_page": 5}).json()["meta"]["total"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": {"$ne": None}}, "title.$ne"),
        ({"$set": {"title": "x"}}, "$set"),
        ({"title": "x", "owner_id": UNKNOWN_ID}, "owner_id"),
        ({"title": "x", "done": "yes"}, "done"),
        ({"title": "x", "tags": "a"}, "tags"),
        ({"title": "x", "due": "2030-13-01"}, "due"),
        ({"title": ""}, "title"),
    ],
)
def test_invalid_body_is_422(alice, body, field):
    response = alice("POST", json=body)
    assert response.status_code == 422
    assert field in response.json()["error"]["details"]


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("todo_id", [*MALFORMED_IDS, UNKNOWN_ID])
def test_malformed_or_unknown_id_is_404(alice, method, todo_id):
    response = alice(method, f"/{todo_id}", json={"title": "x"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# --- conditional requests -----------------------------------------------------------------------


def test_if_none_match_with_the_current_etag_is_304(alice):
    todo = create(alice)
    etag = alice("GET", f"/{todo['id']}").headers["ETag"]
    response = alice("GET", f"/{todo['id']}", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["ETag"] == etag


def test_stale_if_match_is_412_and_changes_nothing(alice):
    todo = create(alice, "v1")
    stale = alice("GET", f"/{todo['id']}").headers["ETag"]
    current = alice("PATCH", f"/{todo['id']}", json={"title": "v2"}).json()
    for method in ("PUT", "PATCH", "DELETE"):
        response = alice(
            method, f"/{todo['id']}", json={"title": "v3"}, headers={"If-Match": stale}
        )
        assert response.status_code == 412, method
        assert response.json()["error"]["code"] == "precondition_failed"
    assert alice("GET", f"/{todo['id']}").json() == current


def test_current_if_match_lets_the_write_through(alice):
    todo = create(alice, "v1")
    etag = alice("GET", f"/{todo['id']}").headers["ETag"]
    patched = alice("PATCH", f"/{todo['id']}", json={"title": "v2"}, headers={"If-Match": etag})
    assert patched.status_code == 200
    assert patched.headers["ETag"] != etag
    deleted = alice("DELETE", f"/{todo['id']}", headers={"If-Match": patched.headers["ETag"]})
    assert deleted.status_code == 204


def patch_at_once(api: TodosApi, path: str, etag: str, titles: list[str]) -> dict:
    """PATCH the todo from one thread per title, all released together with the same If-Match."""
    return at_once(
        {
            title: lambda title=title: api(
                "PATCH", path, json={"title": title}, headers={"If-Match": etag}
            )
            for title in titles
        }
    )


def test_concurrent_patches_with_the_same_if_match_exactly_one_wins(alice):
    path = f"/{create(alice, 'start')['id']}"
    for round_number in range(5):
        etag = alice("GET", path).headers["ETag"]
        results = patch_at_once(alice, path, etag, [f"r{round_number}-a", f"r{round_number}-b"])
        statuses = sorted(response.status_code for response in results.values())
        assert statuses == [200, 412], statuses
        winner = next(title for title, response in results.items() if response.status_code == 200)
        final = alice("GET", path)
        assert final.json()["title"] == winner
        assert final.headers["ETag"] == results[winner].headers["ETag"]


# --- lists --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def carol(live_server) -> TodosApi:
    """A user with a small fixed set of todos, shared by the read-only list tests.

    No two share a sort key: ties are broken by `_id`, and ObjectIds minted by two uwsgi workers
    in the same second do not follow creation order (the tie tests walk sets instead).
    """
    with requests.Session() as http:
        api = api_for(http, live_server)
    for title, fields in [
        ("b shop", {"due": "2030-03-01", "tags": ["shop"]}),
        ("C a.c", {"done": True}),
        ("a home", {"due": "2030-01-01", "tags": ["home", "shop"]}),
        ("d", {"due": "2030-02-01", "done": True}),
        ("e", {"due": "2030-04-01"}),
    ]:
        create(api, title, **fields)
    return api


def test_done_filter(carol):
    assert sorted(titles(carol("GET", params={"done": "true"}))) == ["C a.c", "d"]
    assert sorted(titles(carol("GET", params={"done": "false"}))) == ["a home", "b shop", "e"]


def test_done_filter_other_than_true_or_false_is_400(carol):
    response = carol("GET", params={"done": "1"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


def test_tag_filter(carol):
    assert sorted(titles(carol("GET", params={"tag": "shop"}))) == ["a home", "b shop"]
    assert titles(carol("GET", params={"tag": "home"})) == ["a home"]


def test_q_is_a_case_insensitive_literal_title_prefix(carol):
    assert titles(carol("GET", params={"q": "c A.C"})) == ["C a.c"]
    assert titles(carol("GET", params={"q": "."})) == []
    assert titles(carol("GET", params={"q": "shop"})) == []


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("-created", ["e", "d", "a home", "C a.c", "b shop"]),
        ("created", ["b shop", "C a.c", "a home", "d", "e"]),
        ("due", ["a home", "d", "b shop", "e", "C a.c"]),
        ("-due", ["C a.c", "e", "b shop", "d", "a home"]),
        ("title", ["a home", "b shop", "C a.c", "d", "e"]),
    ],
)
def test_sort(carol, sort, expected):
    assert titles(carol("GET", params={"sort": sort})) == expected


def test_default_sort_is_newest_first(carol):
    assert titles(carol("GET")) == titles(carol("GET", params={"sort": "-created"}))


def test_unknown_sort_is_400(carol):
    assert carol("GET", params={"sort": "priority"}).status_code == 400


def test_page_beyond_the_window_is_400(carol):
    response = carol("GET", params={"page": 101, "per_page": 100})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "page_window_exceeded"


def test_page_mode_returns_total_and_the_page(carol):
    body = carol("GET", params={"sort": "title", "page": 2, "per_page": 2}).json()
    assert [item["title"] for item in body["items"]] == ["C a.c", "d"]
    assert body["meta"]["total"] == 5


def test_cursor_walk_with_tied_due_dates_and_inserts_between_pages(alice):
    original = {create(alice, f"t{n}", due="2030-06-01")["id"] for n in range(7)}
    added = itertools.count()
    seen: list[str] = []
    params = {"sort": "due", "limit": 3}
    pages = 0
    while True:
        response = alice("GET", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        assert pages < 20
        if body["meta"]["next_cursor"] is None:
            break
        assert response.headers["Link"].endswith('rel="next"')
        # One todo tied with the page boundary, one before the cursor.
        create(alice, f"new{next(added)}", due="2030-06-01")
        create(alice, f"new{next(added)}", due="2029-01-01")
        params = {**params, "cursor": body["meta"]["next_cursor"]}
    assert len(seen) == len(set(seen)), "a todo was served twice"
    assert original <= set(seen), "a todo present from the start was skipped"
