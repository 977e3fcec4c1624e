"""Todos, one at a time: create, read, replace, patch, delete, validation and isolation."""

from __future__ import annotations

from datetime import datetime

import pytest

import stores.todos
from db import get_db
from extensions import get_redis
from stores import locks
from tests.support import TODO_FIELDS, TODOS

UNKNOWN_ID = "0123456789abcdef01234567"


def todo_url(todo_id: str) -> str:
    return f"{TODOS}/{todo_id}"


@pytest.fixture
def alice(add_user):
    return add_user("alice")


@pytest.fixture
def bob(add_user):
    return add_user("bob")


@pytest.fixture
def create_todo(client):
    def create(who: dict, **fields) -> dict:
        response = client.post(TODOS, json={"title": "A todo", **fields}, headers=who["headers"])
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return create


def stored(app, todo_id: str) -> dict | None:
    from bson import ObjectId

    with app.app_context():
        return get_db().todos.find_one({"_id": ObjectId(todo_id)})


# --- create -------------------------------------------------------------------------------------


def test_create_returns_201_with_location_etag_and_the_todo(client, alice):
    response = client.post(
        TODOS,
        json={"title": "Buy milk", "description": "2 l", "done": True, "due": "2030-01-31"},
        headers=alice["headers"],
    )
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"/api/v1/todos/{body['id']}"
    assert response.headers["ETag"].startswith('"') and response.headers["ETag"].endswith('"')
    assert body["title"] == "Buy milk" and body["description"] == "2 l"
    assert body["done"] is True and body["due"] == "2030-01-31"


def test_create_fills_defaults_for_optional_fields(create_todo, alice):
    body = create_todo(alice, title="Only a title")
    assert (body["description"], body["done"], body["due"], body["tags"]) == ("", False, None, [])


def test_todo_object_has_exactly_the_contract_fields(create_todo, alice):
    body = create_todo(alice)
    assert list(body) == TODO_FIELDS
    assert len(body["id"]) == 24
    assert body["created"].endswith("Z") and body["updated"] == body["created"]


def test_owner_is_the_caller_from_the_token(create_todo, alice):
    body = create_todo(alice)
    assert body["owner"] == {"id": str(alice["user"]["_id"]), "username": "alice"}


def test_duplicate_tags_are_dropped_keeping_order(create_todo, alice):
    assert create_todo(alice, tags=["b", "a", "b", "c", "a"])["tags"] == ["b", "a", "c"]


def test_created_todo_is_readable_at_its_location(client, alice):
    created = client.post(TODOS, json={"title": "Read me"}, headers=alice["headers"])
    response = client.get(created.headers["Location"], headers=alice["headers"])
    assert response.status_code == 200
    assert response.get_json() == created.get_json()


def test_create_stores_normalised_copies_for_search_and_sort(app, create_todo, alice):
    body = create_todo(alice, title="Straße Plan", due="2031-02-03")
    doc = stored(app, body["id"])
    assert doc["title_lc"] == "strasse plan"
    assert doc["due_sort"] == datetime(2031, 2, 3)
    assert doc["owner_id"] == alice["user"]["_id"] and doc["owner_username"] == "alice"


def test_undated_todo_stores_the_far_future_sort_key(app, create_todo, alice):
    doc = stored(app, create_todo(alice)["id"])
    assert doc["due"] is None and doc["due_sort"] == stores.todos.UNDATED


# --- read ---------------------------------------------------------------------------------------


def test_get_returns_the_todo_and_an_etag(client, create_todo, alice):
    todo = create_todo(alice, title="Mine")
    response = client.get(todo_url(todo["id"]), headers=alice["headers"])
    assert response.status_code == 200
    assert response.get_json()["title"] == "Mine"
    assert response.headers["ETag"]


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
@pytest.mark.parametrize(
    "todo_id", [UNKNOWN_ID, "not-an-id", "0123456789abcdef0123456", "0123456789abcdef012345678"]
)
def test_unknown_or_malformed_id_is_404(client, alice, method, todo_id):
    response = getattr(client, method)(
        todo_url(todo_id), json={"title": "x"}, headers=alice["headers"]
    )
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", TODOS),
        ("post", TODOS),
        ("get", todo_url(UNKNOWN_ID)),
        ("delete", todo_url(UNKNOWN_ID)),
    ],
)
def test_todos_need_a_token(client, method, path):
    response = getattr(client, method)(path, json={"title": "x"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


# --- replace (PUT) ------------------------------------------------------------------------------


def test_put_replaces_every_field_and_resets_missing_optional_ones(client, create_todo, alice):
    todo = create_todo(alice, description="old", done=True, due="2030-01-01", tags=["x"])
    response = client.put(todo_url(todo["id"]), json={"title": "New"}, headers=alice["headers"])
    assert response.status_code == 200
    body = response.get_json()
    assert (body["title"], body["description"], body["done"], body["due"], body["tags"]) == (
        "New",
        "",
        False,
        None,
        [],
    )


def test_put_sets_every_given_field(client, create_todo, alice):
    todo = create_todo(alice)
    new = {"title": "T", "description": "D", "done": True, "due": "2029-12-31", "tags": ["a"]}
    body = client.put(todo_url(todo["id"]), json=new, headers=alice["headers"]).get_json()
    assert {key: body[key] for key in new} == new


def test_put_without_title_is_422_and_changes_nothing(app, client, create_todo, alice):
    todo = create_todo(alice, title="Keep")
    response = client.put(todo_url(todo["id"]), json={"done": True}, headers=alice["headers"])
    assert response.status_code == 422
    assert "title" in response.get_json()["error"]["details"]
    assert stored(app, todo["id"])["title"] == "Keep"


def test_put_keeps_owner_and_created(client, create_todo, alice):
    todo = create_todo(alice)
    body = client.put(
        todo_url(todo["id"]), json={"title": "B"}, headers=alice["headers"]
    ).get_json()
    assert body["owner"] == todo["owner"] and body["created"] == todo["created"]


# --- patch --------------------------------------------------------------------------------------


def test_patch_changes_only_the_given_fields(client, create_todo, alice):
    todo = create_todo(alice, title="T", description="D", due="2030-05-05", tags=["a"])
    response = client.patch(todo_url(todo["id"]), json={"done": True}, headers=alice["headers"])
    assert response.status_code == 200
    body = response.get_json()
    assert body["done"] is True
    assert {k: body[k] for k in ("title", "description", "due", "tags", "created")} == {
        k: todo[k] for k in ("title", "description", "due", "tags", "created")
    }


def test_patch_with_null_due_clears_it(app, client, create_todo, alice):
    todo = create_todo(alice, due="2030-05-05")
    body = client.patch(
        todo_url(todo["id"]), json={"due": None}, headers=alice["headers"]
    ).get_json()
    assert body["due"] is None
    assert stored(app, todo["id"])["due_sort"] == stores.todos.UNDATED


def test_patch_of_title_updates_its_search_copy(app, client, create_todo, alice):
    todo = create_todo(alice, title="Old")
    client.patch(todo_url(todo["id"]), json={"title": "NEW Title"}, headers=alice["headers"])
    assert stored(app, todo["id"])["title_lc"] == "new title"


def test_empty_patch_is_a_write_that_changes_no_field(client, create_todo, alice):
    todo = create_todo(alice, title="Same")
    before = client.get(todo_url(todo["id"]), headers=alice["headers"])
    response = client.patch(todo_url(todo["id"]), json={}, headers=alice["headers"])
    assert response.status_code == 200
    assert response.get_json()["title"] == "Same"
    assert response.get_json()["updated"] > todo["updated"]
    assert response.headers["ETag"] != before.headers["ETag"]


def test_updated_changes_on_every_write_and_created_never(client, create_todo, alice):
    todo = create_todo(alice)
    seen = [todo["updated"]]
    for body in ({"done": True}, {"done": False}, {"title": "again"}):
        written = client.patch(todo_url(todo["id"]), json=body, headers=alice["headers"])
        seen.append(written.get_json()["updated"])
        assert written.get_json()["created"] == todo["created"]
    replaced = client.put(todo_url(todo["id"]), json={"title": "put"}, headers=alice["headers"])
    seen.append(replaced.get_json()["updated"])
    assert seen == sorted(seen) and len(set(seen)) == len(seen)


def test_writes_within_one_millisecond_still_move_updated(client, create_todo, alice, clock):
    todo = create_todo(alice)
    clock.set(datetime(2030, 1, 1, 12, 0, 0))
    first = client.patch(todo_url(todo["id"]), json={"done": True}, headers=alice["headers"])
    second = client.patch(todo_url(todo["id"]), json={"done": False}, headers=alice["headers"])
    assert first.status_code == second.status_code == 200
    assert first.get_json()["updated"] == "2030-01-01T12:00:00.000Z"
    assert second.get_json()["updated"] == "2030-01-01T12:00:00.001Z"


# --- delete -------------------------------------------------------------------------------------


def test_delete_returns_204_with_an_empty_body(client, create_todo, alice):
    todo = create_todo(alice)
    response = client.delete(todo_url(todo["id"]), headers=alice["headers"])
    assert response.status_code == 204
    assert response.data == b""


def test_deleted_todo_is_gone(client, create_todo, alice):
    todo = create_todo(alice)
    client.delete(todo_url(todo["id"]), headers=alice["headers"])
    assert client.get(todo_url(todo["id"]), headers=alice["headers"]).status_code == 404
    assert client.delete(todo_url(todo["id"]), headers=alice["headers"]).status_code == 404


def test_crud_round_trip(client, alice):
    headers = alice["headers"]
    created = client.post(TODOS, json={"title": "Trip", "tags": ["t"]}, headers=headers)
    url = created.headers["Location"]
    assert client.get(url, headers=headers).get_json()["title"] == "Trip"
    assert client.put(url, json={"title": "Trip 2"}, headers=headers).get_json()["tags"] == []
    assert client.patch(url, json={"done": True}, headers=headers).get_json() == {
        **client.get(url, headers=headers).get_json(),
        "done": True,
    }
    assert client.delete(url, headers=headers).status_code == 204
    assert client.get(url, headers=headers).status_code == 404


# --- isolation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "body"),
    [("get", None), ("put", {"title": "mine now"}), ("patch", {"done": True}), ("delete", None)],
)
def test_another_users_todo_is_404_for_every_verb_and_unchanged(
    app, client, create_todo, alice, bob, method, body
):
    todo = create_todo(alice, title="Alice's")
    before = stored(app, todo["id"])
    response = getattr(client, method)(todo_url(todo["id"]), json=body, headers=bob["headers"])
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert stored(app, todo["id"]) == before


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_if_match_star_does_not_reach_another_users_todo(
    app, client, create_todo, alice, bob, method
):
    todo = create_todo(alice)
    headers = {**bob["headers"], "If-Match": "*"}
    response = getattr(client, method)(todo_url(todo["id"]), json={"title": "x"}, headers=headers)
    assert response.status_code == 404
    assert stored(app, todo["id"])["version"] == 1


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_another_users_current_etag_is_404_not_412(client, create_todo, alice, bob, method):
    todo = create_todo(alice)
    etag = client.get(todo_url(todo["id"]), headers=alice["headers"]).headers["ETag"]
    headers = {**bob["headers"], "If-Match": etag}
    response = getattr(client, method)(todo_url(todo["id"]), json={"title": "x"}, headers=headers)
    assert response.status_code == 404


def test_list_shows_only_the_callers_todos(client, create_todo, alice, bob):
    create_todo(alice, title="Alice's")
    mine = create_todo(bob, title="Bob's")
    items = client.get(TODOS, headers=bob["headers"]).get_json()["items"]
    assert [item["id"] for item in items] == [mine["id"]]


def test_owner_of_a_todo_is_stored_not_taken_from_the_body(client, alice):
    response = client.post(
        TODOS, json={"title": "x", "owner": {"id": UNKNOWN_ID}}, headers=alice["headers"]
    )
    assert response.status_code == 422


# --- validation ---------------------------------------------------------------------------------

INVALID_BODIES = [
    pytest.param({}, "title", id="missing-title"),
    pytest.param({"title": ""}, "title", id="empty-title"),
    pytest.param({"title": "   "}, "title", id="blank-title"),
    pytest.param({"title": "x" * 201}, "title", id="title-201"),
    pytest.param({"title": None}, "title", id="null-title"),
    pytest.param({"title": 5}, "title", id="number-title"),
    pytest.param({"title": ["a"]}, "title", id="list-title"),
    pytest.param({"title": {"$ne": None}}, "title.$ne", id="operator-title"),
    pytest.param({"title": "x", "description": "d" * 2001}, "description", id="description-2001"),
    pytest.param({"title": "x", "description": None}, "description", id="null-description"),
    pytest.param({"title": "x", "done": "true"}, "done", id="string-done"),
    pytest.param({"title": "x", "done": 1}, "done", id="number-done"),
    pytest.param({"title": "x", "done": None}, "done", id="null-done"),
    pytest.param({"title": "x", "due": "2030-1-5"}, "due", id="unpadded-due"),
    pytest.param({"title": "x", "due": "20300105"}, "due", id="compact-due"),
    pytest.param({"title": "x", "due": "2030-02-30"}, "due", id="impossible-due"),
    pytest.param({"title": "x", "due": "2030-01-05T10:00:00Z"}, "due", id="datetime-due"),
    pytest.param({"title": "x", "due": 20300105}, "due", id="number-due"),
    pytest.param({"title": "x", "due": {"$gt": ""}}, "due.$gt", id="operator-due"),
    pytest.param({"title": "x", "tags": "a"}, "tags", id="string-tags"),
    pytest.param({"title": "x", "tags": None}, "tags", id="null-tags"),
    pytest.param({"title": "x", "tags": [""]}, "tags", id="empty-tag"),
    pytest.param({"title": "x", "tags": ["t" * 31]}, "tags", id="tag-31"),
    pytest.param({"title": "x", "tags": [5]}, "tags", id="number-tag"),
    pytest.param({"title": "x", "tags": [str(n) for n in range(21)]}, "tags", id="21-tags"),
    pytest.param({"title": "x", "priority": 1}, "priority", id="unknown-field"),
    pytest.param({"title": "x", "_id": UNKNOWN_ID}, "_id", id="underscore-id"),
    pytest.param({"title": "x", "version": 7}, "version", id="version-field"),
    pytest.param({"title": "x", "$set": {"done": True}}, "$set", id="dollar-key"),
    pytest.param({"$set": {"title": "x"}}, "$set", id="only-set"),
    pytest.param({"title": "x", "a.b": 1}, "a.b", id="dotted-key"),
    pytest.param({"title": "x", "tags": [{"$gt": ""}]}, "tags[0].$gt", id="nested-dollar"),
]


@pytest.mark.parametrize(("body", "field"), INVALID_BODIES)
def test_invalid_create_is_422_naming_the_field(app, client, alice, body, field):
    response = client.post(TODOS, json=body, headers=alice["headers"])
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]
    with app.app_context():
        assert get_db().todos.count_documents({}) == 0


@pytest.mark.parametrize(("body", "field"), INVALID_BODIES)
def test_invalid_replace_is_422_and_changes_nothing(app, client, create_todo, alice, body, field):
    todo = create_todo(alice)
    before = stored(app, todo["id"])
    response = client.put(todo_url(todo["id"]), json=body, headers=alice["headers"])
    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]
    assert stored(app, todo["id"]) == before


@pytest.mark.parametrize(("body", "field"), [p for p in INVALID_BODIES if p.id != "missing-title"])
def test_invalid_patch_is_422_and_changes_nothing(app, client, create_todo, alice, body, field):
    todo = create_todo(alice)
    before = stored(app, todo["id"])
    response = client.patch(todo_url(todo["id"]), json=body, headers=alice["headers"])
    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]
    assert stored(app, todo["id"]) == before


@pytest.mark.parametrize(
    "body", [{"title": ""}, {"title": None}, {"title": {"$ne": None}}, {"$set": {"done": True}}]
)
def test_patch_refuses_bad_titles_and_operators(client, create_todo, alice, body):
    todo = create_todo(alice)
    response = client.patch(todo_url(todo["id"]), json=body, headers=alice["headers"])
    assert response.status_code == 422


def test_largest_valid_todo_is_accepted(create_todo, alice):
    body = create_todo(
        alice,
        title="t" * 200,
        description="d" * 2000,
        tags=[f"{n:02d}" + "x" * 28 for n in range(20)],
        due="9999-12-31",
    )
    assert len(body["title"]) == 200 and len(body["tags"]) == 20 and body["due"] == "9999-12-31"


def test_body_that_is_not_an_object_is_422(client, alice):
    response = client.post(TODOS, json=["title"], headers=alice["headers"])
    assert response.status_code == 422


def test_body_without_json_content_type_is_415(client, alice):
    response = client.post(TODOS, data='{"title": "x"}', headers=alice["headers"])
    assert response.status_code == 415
    assert response.get_json()["error"]["code"] == "unsupported_media_type"


def test_unparsable_json_is_400(client, alice):
    response = client.post(
        TODOS, data="{title", content_type="application/json", headers=alice["headers"]
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


# --- conditional requests -----------------------------------------------------------------------


def etag_of(client, who: dict, todo_id: str) -> str:
    return client.get(todo_url(todo_id), headers=who["headers"]).headers["ETag"]


def test_etag_of_get_matches_the_one_returned_by_create(client, alice):
    created = client.post(TODOS, json={"title": "x"}, headers=alice["headers"])
    assert etag_of(client, alice, created.get_json()["id"]) == created.headers["ETag"]


def test_etag_is_strong_and_quoted(client, create_todo, alice):
    etag = etag_of(client, alice, create_todo(alice)["id"])
    assert not etag.startswith("W/")
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 2


def test_etags_of_two_todos_differ(client, create_todo, alice):
    first, second = create_todo(alice), create_todo(alice)
    assert etag_of(client, alice, first["id"]) != etag_of(client, alice, second["id"])


@pytest.mark.parametrize(("method", "body"), [("put", {"title": "new"}), ("patch", {"done": True})])
def test_every_write_returns_the_new_etag_that_get_then_reports(
    client, create_todo, alice, method, body
):
    todo = create_todo(alice)
    old = etag_of(client, alice, todo["id"])
    response = getattr(client, method)(todo_url(todo["id"]), json=body, headers=alice["headers"])
    assert response.headers["ETag"] != old
    assert response.headers["ETag"] == etag_of(client, alice, todo["id"])


def test_if_none_match_with_the_current_etag_is_304_without_body(client, create_todo, alice):
    todo = create_todo(alice)
    etag = etag_of(client, alice, todo["id"])
    response = client.get(todo_url(todo["id"]), headers={**alice["headers"], "If-None-Match": etag})
    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == etag


@pytest.mark.parametrize("form", ["W/{etag}", '"nope", {etag}', "*"])
def test_if_none_match_also_matches_weak_listed_and_star_forms(client, create_todo, alice, form):
    todo = create_todo(alice)
    header = form.format(etag=etag_of(client, alice, todo["id"]))
    response = client.get(
        todo_url(todo["id"]), headers={**alice["headers"], "If-None-Match": header}
    )
    assert response.status_code == 304


def test_if_none_match_with_an_old_etag_returns_the_todo(client, create_todo, alice):
    todo = create_todo(alice)
    old = etag_of(client, alice, todo["id"])
    client.patch(todo_url(todo["id"]), json={"title": "changed"}, headers=alice["headers"])
    response = client.get(todo_url(todo["id"]), headers={**alice["headers"], "If-None-Match": old})
    assert response.status_code == 200
    assert response.get_json()["title"] == "changed"


@pytest.mark.parametrize(
    ("method", "body", "status"),
    [("put", {"title": "new"}, 200), ("patch", {"title": "new"}, 200), ("delete", None, 204)],
)
def test_write_with_the_current_if_match_succeeds(client, create_todo, alice, method, body, status):
    todo = create_todo(alice)
    headers = {**alice["headers"], "If-Match": etag_of(client, alice, todo["id"])}
    response = getattr(client, method)(todo_url(todo["id"]), json=body, headers=headers)
    assert response.status_code == status


@pytest.mark.parametrize(
    ("method", "body"), [("put", {"title": "lost"}), ("patch", {"title": "lost"}), ("delete", None)]
)
def test_write_with_a_stale_if_match_is_412_and_changes_nothing(
    app, client, create_todo, alice, method, body
):
    todo = create_todo(alice)
    stale = etag_of(client, alice, todo["id"])
    client.patch(todo_url(todo["id"]), json={"title": "current"}, headers=alice["headers"])
    before = stored(app, todo["id"])
    headers = {**alice["headers"], "If-Match": stale}
    response = getattr(client, method)(todo_url(todo["id"]), json=body, headers=headers)
    assert response.status_code == 412
    assert response.get_json()["error"]["code"] == "precondition_failed"
    assert stored(app, todo["id"]) == before


def test_second_patch_with_the_same_if_match_is_412(client, create_todo, alice):
    todo = create_todo(alice)
    headers = {**alice["headers"], "If-Match": etag_of(client, alice, todo["id"])}
    first = client.patch(todo_url(todo["id"]), json={"title": "first"}, headers=headers)
    second = client.patch(todo_url(todo["id"]), json={"title": "second"}, headers=headers)
    assert (first.status_code, second.status_code) == (200, 412)
    assert client.get(todo_url(todo["id"]), headers=alice["headers"]).get_json()["title"] == "first"


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_if_match_star_matches_any_existing_todo(client, create_todo, alice, method):
    todo = create_todo(alice)
    client.patch(todo_url(todo["id"]), json={"done": True}, headers=alice["headers"])
    headers = {**alice["headers"], "If-Match": "*"}
    response = getattr(client, method)(todo_url(todo["id"]), json={"title": "x"}, headers=headers)
    assert response.status_code in (200, 204)


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_if_match_on_a_missing_todo_is_404(client, alice, method):
    headers = {**alice["headers"], "If-Match": "*"}
    response = getattr(client, method)(todo_url(UNKNOWN_ID), json={"title": "x"}, headers=headers)
    assert response.status_code == 404


def test_if_match_listing_the_current_etag_among_others_succeeds(client, create_todo, alice):
    todo = create_todo(alice)
    current = etag_of(client, alice, todo["id"])
    headers = {**alice["headers"], "If-Match": f'"stale-1", {current}'}
    response = client.patch(todo_url(todo["id"]), json={"done": True}, headers=headers)
    assert response.status_code == 200


@pytest.mark.parametrize("form", ["W/{etag}", "{bare}", '"garbage"', '"{other}"'])
def test_if_match_with_weak_unquoted_foreign_or_garbage_tags_is_412(
    client, create_todo, alice, form
):
    todo, other = create_todo(alice), create_todo(alice)
    etag = etag_of(client, alice, todo["id"])
    other_tag = etag_of(client, alice, other["id"]).strip('"')
    header = form.format(etag=etag, bare=etag.strip('"') + "x", other=other_tag)
    response = client.patch(
        todo_url(todo["id"]), json={"done": True}, headers={**alice["headers"], "If-Match": header}
    )
    assert response.status_code == 412


@pytest.mark.parametrize("method", ["patch", "put", "delete"])
def test_if_match_with_an_empty_tag_is_412_and_changes_nothing(
    app, client, create_todo, alice, method
):
    # Found by schema fuzzing: werkzeug parses `""` as a tag of None, which crashed the match.
    todo = create_todo(alice)
    body = {"json": {"title": "Changed"}} if method != "delete" else {}
    headers = {**alice["headers"], "If-Match": '""'}
    response = getattr(client, method)(todo_url(todo["id"]), headers=headers, **body)
    assert response.status_code == 412
    assert response.get_json()["error"]["code"] == "precondition_failed"
    assert stored(app, todo["id"])["title"] == "A todo"


class RacingCollection:
    """The todos collection, with another client's write landing just before each conditional
    write: what a concurrent editor holding the same ETag does between our read and our write."""

    def __init__(self, collection, todo_id, race_before_write: int = 1):
        self.collection = collection
        self.todo_id = todo_id
        self.race_before_write = race_before_write
        self.writes = 0

    def _race(self):
        self.writes += 1
        if self.writes == self.race_before_write:
            self.collection.update_one(
                {"_id": self.todo_id}, {"$set": {"title": "theirs"}, "$inc": {"version": 1}}
            )

    def find_one_and_update(self, *args, **kwargs):
        self._race()
        return self.collection.find_one_and_update(*args, **kwargs)

    def delete_one(self, *args, **kwargs):
        self._race()
        return self.collection.delete_one(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.collection, name)


@pytest.mark.parametrize(
    ("method", "body"), [("put", {"title": "mine"}), ("patch", {"title": "mine"}), ("delete", None)]
)
def test_if_match_is_checked_in_the_write_itself_so_a_racing_write_wins(
    app, client, create_todo, alice, monkeypatch, method, body
):
    from bson import ObjectId

    todo = create_todo(alice)
    headers = {**alice["headers"], "If-Match": etag_of(client, alice, todo["id"])}
    with app.app_context():
        racing = RacingCollection(get_db().todos, ObjectId(todo["id"]))
    monkeypatch.setattr(stores.todos, "todos", lambda: racing)
    response = getattr(client, method)(todo_url(todo["id"]), json=body, headers=headers)
    assert response.status_code == 412
    assert stored(app, todo["id"])["title"] == "theirs"


def test_if_match_holds_on_the_retry_after_a_clock_behind_the_stored_updated(
    app, client, create_todo, alice, monkeypatch, clock
):
    # Our clock is behind the stored `updated` (another server's clock runs ahead), so the first
    # write attempt is refused and retried; another editor writes just before that retry.
    from bson import ObjectId

    todo = create_todo(alice)
    headers = {**alice["headers"], "If-Match": etag_of(client, alice, todo["id"])}
    with app.app_context():
        racing = RacingCollection(get_db().todos, ObjectId(todo["id"]), race_before_write=2)
    monkeypatch.setattr(stores.todos, "todos", lambda: racing)
    clock.set(datetime(2000, 1, 1))
    response = client.patch(todo_url(todo["id"]), json={"title": "mine"}, headers=headers)
    assert racing.writes == 2
    assert response.status_code == 412
    assert stored(app, todo["id"])["title"] == "theirs"


# --- the per-todo write lock (what makes conditional writes atomic on FerretDB too) -------------


def lock_key(todo_id: str) -> str:
    return locks.lock_key(f"todo:{todo_id}")


@pytest.mark.parametrize(
    ("method", "body"), [("put", {"title": "x"}), ("patch", {"done": True}), ("delete", None)]
)
def test_write_to_a_todo_locked_by_another_request_waits_then_is_409(
    app, client, create_todo, alice, monkeypatch, method, body
):
    todo = create_todo(alice)
    monkeypatch.setattr(locks, "LOCK_WAIT_SECONDS", 0.05)
    with app.app_context():
        get_redis().set(lock_key(todo["id"]), b"another-request", px=60_000)
    before = stored(app, todo["id"])
    response = getattr(client, method)(todo_url(todo["id"]), json=body, headers=alice["headers"])
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "conflict"
    assert stored(app, todo["id"]) == before


@pytest.mark.parametrize(
    ("method", "if_match", "status"),
    [("patch", None, 200), ("patch", '"stale"', 412), ("delete", None, 204), ("put", "*", 200)],
)
def test_write_releases_the_lock_whatever_its_outcome(
    app, client, create_todo, alice, method, if_match, status
):
    todo = create_todo(alice)
    headers = {**alice["headers"], **({"If-Match": if_match} if if_match else {})}
    response = getattr(client, method)(todo_url(todo["id"]), json={"title": "x"}, headers=headers)
    assert response.status_code == status
    with app.app_context():
        assert get_redis().exists(lock_key(todo["id"])) == 0


def test_write_lock_is_held_during_the_write_and_expires_on_its_own(
    app, client, create_todo, alice, monkeypatch
):
    todo = create_todo(alice)
    seen = {}
    with app.app_context():
        collection = get_db().todos

        class Spy:
            def find_one_and_update(self, *args, **kwargs):
                redis = get_redis()
                seen["ttl_ms"] = redis.pttl(lock_key(todo["id"]))
                return collection.find_one_and_update(*args, **kwargs)

            def __getattr__(self, name):
                return getattr(collection, name)

        monkeypatch.setattr(stores.todos, "todos", Spy)
        client.patch(todo_url(todo["id"]), json={"done": True}, headers=alice["headers"])
    assert 0 < seen["ttl_ms"] <= locks.LOCK_TTL_MS


def test_a_lock_that_expired_and_changed_hands_is_not_released_by_its_old_holder(
    app, client, create_todo, alice, monkeypatch
):
    todo = create_todo(alice)
    with app.app_context():
        collection = get_db().todos

        class TakenOver:
            def find_one_and_update(self, *args, **kwargs):
                get_redis().set(lock_key(todo["id"]), b"next-holder")
                return collection.find_one_and_update(*args, **kwargs)

            def __getattr__(self, name):
                return getattr(collection, name)

        monkeypatch.setattr(stores.todos, "todos", TakenOver)
        client.patch(todo_url(todo["id"]), json={"done": True}, headers=alice["headers"])
        assert get_redis().get(lock_key(todo["id"])) == b"next-holder"


def test_a_failed_lock_release_does_not_fail_a_write_that_is_done(
    app, client, create_todo, alice, monkeypatch
):
    import redis
    from redis.lock import Lock

    todo = create_todo(alice)

    def redis_went_away(self, expected_token):
        raise redis.ConnectionError("redis went away")

    monkeypatch.setattr(Lock, "do_release", redis_went_away)
    response = client.patch(todo_url(todo["id"]), json={"done": True}, headers=alice["headers"])
    assert response.status_code == 200
    assert stored(app, todo["id"])["done"] is True
