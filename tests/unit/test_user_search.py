"""GET /users on mongomock: prefix search, sorts, both pagination modes, the queries issued, and
the `user_prefixes` rows each write keeps in step with the users (and what a crash leaves)."""

from __future__ import annotations

from datetime import datetime
from functools import partial

import mongomock
import pymongo.errors
import pytest
from bson import ObjectId
from pymongo import ASCENDING, DESCENDING

import stores.user_prefixes as user_prefixes
import stores.user_search as user_search
import stores.users
from db import INDEXES, get_db
from stores.text_match import prefix_range
from stores.user_prefixes import (
    SEARCH_PREFIX_MAX,
    prefix_rows,
    row_id,
    search_prefixes,
    user_matches,
)
from stores.user_search import SEARCH_SORTS, USER_SORTS, count_matches
from stores.users import build_user_document
from tests.support import REGISTER, USERS
from tests.user_search_cases import (
    PEOPLE,
    QUERIES,
    SORTS,
    check_search,
    created_of,
    expected_rows,
    json_getter,
)
from tests.user_search_cases import add_listed_user as add_listed_user_to


@pytest.fixture
def add_listed_user(app):
    """Factory: insert a searchable user through the store; returns the document."""
    return partial(add_listed_user_to, app)


@pytest.fixture
def caller(add_listed_user, auth_headers):
    return auth_headers(add_listed_user("caller", "The Caller"))


def usernames(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [item["username"] for item in response.get_json()["items"]]


def walk(client, headers, query: str) -> list[str]:
    """Follow `next_cursor` from the first page to the last; every username seen, in order."""
    seen, url = [], f"{USERS}?{query}"
    while url:
        body = client.get(url, headers=headers).get_json()
        seen += [item["username"] for item in body["items"]]
        url = body["links"].get("next")
    return seen


# --- what a user is found by -------------------------------------------------------------------


def test_search_prefixes_cover_username_and_each_name_word():
    assert search_prefixes("ann.lee", ["ann", "marie"]) == [
        *["a", "an", "ann", "ann.", "ann.l", "ann.le", "ann.lee"],
        *["m", "ma", "mar", "mari", "marie"],
    ]


def test_search_prefixes_stop_at_the_longest_indexed_prefix():
    prefixes = search_prefixes("x" * 40, [])
    assert max(map(len, prefixes)) == SEARCH_PREFIX_MAX == len(prefixes)


def test_a_user_has_one_row_per_distinct_prefix_carrying_its_sort_keys():
    user = build_user_document("Ann.Lee", "ann@example.com", "-", "Ann Marie Ann")
    user["_id"] = ObjectId()
    rows = prefix_rows(user)
    assert [row["prefix"] for row in rows] == search_prefixes("ann.lee", ["ann", "marie"])
    assert rows[2] == {
        "_id": f"{user['_id']}:ann",
        "prefix": "ann",
        "username_lc": "ann.lee",
        "created": user["created"],
    }


def test_row_ids_order_like_their_users_ids_within_one_prefix():
    ids = sorted(ObjectId() for _ in range(50))
    assert sorted(row_id(oid, "ma") for oid in ids) == [row_id(oid, "ma") for oid in ids]


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("ma", True),
        ("lee", True),
        ("abcdefghijklmnop", True),
        ("abcdefghijklmnopq", True),
        ("abcdefghijklmnopz", False),
        ("x", False),
        ("ary", False),
    ],
)
def test_a_user_matches_a_prefix_of_its_username_or_of_a_name_word(q, found):
    user = {"username_lc": "abcdefghijklmnopqrs", "name_words": ["mary", "leeds"]}
    assert user_matches(user, q) is found


def test_a_long_q_needs_one_word_with_the_whole_prefix():
    user = {"username_lc": "u1", "name_words": ["abcdefghijklmnopz", "abcdefghijklmnopa"]}
    assert not user_matches(user, "abcdefghijklmnopq")


@pytest.mark.parametrize(
    ("prefix", "bounds"),
    [
        ("ma", {"$gte": "ma", "$lt": "mb"}),
        ("a\U0001f600", {"$gte": "a\U0001f600", "$lt": "a\U0001f601"}),
        ("a" + chr(0x10FFFF), {"$gte": "a" + chr(0x10FFFF), "$lt": "b"}),
        (chr(0x10FFFF), {"$gte": chr(0x10FFFF)}),
    ],
)
def test_prefix_range_holds_exactly_the_strings_with_that_prefix(prefix, bounds):
    assert prefix_range(prefix) == bounds


# --- the indexes and the queries ---------------------------------------------------------------


def index_keys(collection: str, name: str) -> list[tuple[str, int]]:
    (model,) = [m for m in INDEXES[collection] if m.document["name"] == name]
    return list(model.document["key"].items())


@pytest.mark.parametrize("sort_name", list(USER_SORTS))
def test_each_listing_sort_hints_an_index_walked_in_its_own_direction(sort_name):
    sort = USER_SORTS[sort_name]
    assert index_keys("users", sort.index) == [
        (sort.field, sort.direction),
        ("_id", sort.direction),
    ]


@pytest.mark.parametrize("sort_name", list(SEARCH_SORTS))
def test_each_search_sort_hints_prefix_equality_then_its_key_in_its_own_direction(sort_name):
    sort = SEARCH_SORTS[sort_name]
    keys = index_keys("user_prefixes", sort.index)
    assert keys[:2] == [("prefix", ASCENDING), (sort.field, sort.direction)]
    assert keys[2:] == ([] if sort.unique else [("_id", sort.direction)])


def test_no_index_is_multikey_on_the_search_path():
    """Every key of the search indexes is a scalar field of the row (what DocumentDB walks in
    order), and the users collection keeps no index of the earlier prefix array."""
    for model in INDEXES["user_prefixes"]:
        assert set(model.document["key"]) <= {"prefix", "username_lc", "created", "_id"}
    assert all("search_prefixes" not in model.document["key"] for model in INDEXES["users"])


class RecordingCursor:
    def __init__(self, cursor, record: dict) -> None:
        self.cursor, self.record = cursor, record

    def __getattr__(self, option):
        def set_option(*value):
            self.record[option] = value[0] if len(value) == 1 else value
            self.cursor = getattr(self.cursor, option)(*value)
            return self

        return set_option

    def __iter__(self):
        return iter(self.cursor)


class Recording:
    """A collection, recording the find / count calls made on it."""

    def __init__(self, name, collection, calls) -> None:
        self.name, self.collection, self.calls = name, collection, calls

    def find(self, query_filter, projection=None):
        record = {"on": self.name, "find": query_filter, "projection": projection}
        self.calls.append(record)
        return RecordingCursor(self.collection.find(query_filter, projection), record)

    def count_documents(self, query_filter, **kwargs):
        self.calls.append({"on": self.name, "count_documents": query_filter, **kwargs})
        return self.collection.count_documents(query_filter, **kwargs)

    def estimated_document_count(self):
        self.calls.append({"on": self.name, "estimated_document_count": True})
        return self.collection.estimated_document_count()


@pytest.fixture
def issued(monkeypatch):
    """The calls GET /users makes on the users and user_prefixes collections, in order."""
    calls: list[dict] = []

    class Db:
        def __getattr__(self, name):
            return Recording(name, getattr(get_db(), name), calls)

    monkeypatch.setattr(user_search, "get_db", lambda: Db())
    monkeypatch.setattr(
        user_search,
        "user_prefixes",
        lambda: Recording("user_prefixes", get_db().user_prefixes, calls),
    )
    return lambda: calls


def test_search_page_walks_limit_plus_one_rows_then_reads_their_users_by_id(
    client, caller, add_listed_user, issued
):
    for name in ("mia", "max", "moe"):
        add_listed_user(name)
    client.get(f"{USERS}?q=Ma&limit=5", headers=caller)
    rows, users = issued()
    assert rows["on"] == "user_prefixes" and rows["find"] == {"prefix": "ma"}
    assert rows["sort"] == [("username_lc", ASCENDING)]
    assert rows["hint"] == "prefix_username"
    assert (rows["skip"], rows["limit"]) == (0, 6)
    assert users["on"] == "users" and list(users["find"]) == ["_id"]
    assert "password_hash" not in users["projection"]


def test_next_search_page_starts_after_the_cursor_key(client, caller, add_listed_user, issued):
    for name in ("mia", "max", "moe"):
        add_listed_user(name)
    first = client.get(f"{USERS}?q=m&limit=2", headers=caller).get_json()
    client.get(first["links"]["next"], headers=caller)
    rows = issued()[-2]
    assert rows["find"] == {"prefix": "m", "username_lc": {"$gt": "mia"}}
    assert (rows["skip"], rows["hint"]) == (0, "prefix_username")


def test_next_page_by_created_excludes_only_the_ties_already_seen(
    client, caller, add_listed_user, issued
):
    same = datetime(2024, 5, 1)
    docs = [add_listed_user(name, created=same) for name in ("mia", "max", "moe")]
    first = client.get(f"{USERS}?q=m&sort=-created&limit=2", headers=caller).get_json()
    client.get(first["links"]["next"], headers=caller)
    rows = issued()[-2]
    last_id = sorted(doc["_id"] for doc in docs)[-2]
    assert rows["find"] == {
        "prefix": "m",
        "created": {"$lte": same},
        "$nor": [{"created": same, "_id": {"$gte": row_id(last_id, "m")}}],
    }
    assert rows["sort"] == [("created", DESCENDING), ("_id", DESCENDING)]
    assert rows["hint"] == "prefix_created_id_desc"


def test_page_mode_skips_rows_in_the_walk(client, caller, add_listed_user, issued):
    for name in ("mia", "max", "moe"):
        add_listed_user(name)
    body = client.get(f"{USERS}?q=m&page=2&per_page=2", headers=caller).get_json()
    assert [item["username"] for item in body["items"]] == ["moe"]
    rows = next(call for call in issued() if "find" in call and call["on"] == "user_prefixes")
    assert (rows["skip"], rows["limit"]) == (2, 3)


@pytest.mark.parametrize("sort_name", list(USER_SORTS))
def test_listing_without_q_hints_the_sort_orders_own_index(client, caller, issued, sort_name):
    client.get(f"{USERS}?sort={sort_name}", headers=caller)
    (call,) = issued()
    assert call["on"] == "users"
    assert call["find"] == {} and call["hint"] == USER_SORTS[sort_name].index


def test_cursor_mode_never_counts(client, caller, issued):
    client.get(f"{USERS}?q=c", headers=caller)
    client.get(USERS, headers=caller)
    assert all("find" in call for call in issued())


def test_page_mode_without_q_totals_with_the_estimated_count(client, caller, issued):
    body = client.get(f"{USERS}?page=1&per_page=5", headers=caller).get_json()
    assert body["meta"]["total"] == 1
    assert {"on": "users", "estimated_document_count": True} in issued()


def test_page_mode_with_q_counts_rows_no_further_than_the_page_window(client, caller, issued):
    body = client.get(f"{USERS}?q=cal&page=1&per_page=5", headers=caller).get_json()
    assert body["meta"]["total"] == 1
    assert {
        "on": "user_prefixes",
        "count_documents": {"prefix": "cal"},
        "limit": 10_000,
    } in issued()


def test_count_of_matches_stops_at_the_cap(app, add_listed_user):
    for name in ("mia", "max", "moe"):
        add_listed_user(name)
    with app.app_context():
        assert count_matches("m", cap=2) == 2
        assert count_matches("m") == 3


def test_count_of_a_long_q_counts_the_users_the_whole_q_matches(app, add_listed_user):
    add_listed_user("abcdefghijklmnopqrs")
    add_listed_user("abcdefghijklmnopzz")
    with app.app_context():
        assert count_matches("abcdefghijklmnopq") == 1
        assert count_matches("abcdefghijklmnop") == 2


# --- every write keeps the rows in step --------------------------------------------------------


def stored_rows(app) -> set[str]:
    with app.app_context():
        return {row["_id"] for row in get_db().user_prefixes.find({}, {"_id": 1})}


def all_users(app) -> list[dict]:
    with app.app_context():
        return list(get_db().users.find())


def rows_in_step(app) -> bool:
    return stored_rows(app) == expected_rows(all_users(app))


def test_registration_writes_the_rows_of_the_new_user(client, app):
    body = {"username": "Reg1", "email": "reg1@example.com", "password": "password-123"}
    assert client.post(REGISTER, json={**body, "name": "Ada Byron"}).status_code == 201
    assert rows_in_step(app) and len(stored_rows(app)) == len(
        search_prefixes("reg1", ["ada", "byron"])
    )


def test_a_refused_registration_leaves_no_rows(client, app, add_listed_user):
    add_listed_user("taken")
    before = stored_rows(app)
    body = {"username": "TAKEN", "email": "new@example.com", "password": "password-123"}
    assert client.post(REGISTER, json={**body, "name": "Other Name"}).status_code == 409
    assert stored_rows(app) == before


def test_a_rename_replaces_the_rows_of_the_old_name(client, app, make_user, auth_headers):
    user, _ = make_user("renamed", name="Ada Lovelace")
    response = client.patch(
        f"{USERS}/{user['_id']}", json={"name": "Ada Byron"}, headers=auth_headers(user)
    )
    assert response.status_code == 200
    assert rows_in_step(app)
    prefixes = {row.split(":", 1)[1] for row in stored_rows(app)}
    assert "byr" in prefixes and "lov" not in prefixes and "ren" in prefixes


def test_a_refused_rename_keeps_the_rows_of_the_stored_name(client, app, make_user, auth_headers):
    make_user("other")
    user, _ = make_user("renamed", name="Ada Lovelace")
    response = client.patch(
        f"{USERS}/{user['_id']}",
        json={"name": "Ada Byron", "email": "other@example.com"},
        headers=auth_headers(user),
    )
    assert response.status_code == 409
    assert rows_in_step(app)


def test_a_rename_whose_write_fails_keeps_the_rows_of_the_stored_name(
    client, app, make_user, auth_headers, monkeypatch
):
    user, _ = make_user("renamed", name="Ada Lovelace")
    headers = auth_headers(user)

    def fails(*args, **kwargs):
        raise pymongo.errors.AutoReconnect("connection lost")

    monkeypatch.setattr(mongomock.collection.Collection, "find_one_and_update", fails)
    response = client.patch(f"{USERS}/{user['_id']}", json={"name": "Ada Byron"}, headers=headers)
    assert response.status_code == 503
    assert rows_in_step(app)


def test_a_deleted_user_leaves_no_rows(client, app, make_user, auth_headers):
    user, _ = make_user("leaving", name="Soon Gone")
    make_user("staying", name="Still Here")
    assert client.delete(f"{USERS}/{user['_id']}", headers=auth_headers(user)).status_code == 204
    assert rows_in_step(app)
    assert not any(row.startswith(str(user["_id"])) for row in stored_rows(app))


def test_create_admin_writes_the_rows_of_the_admin(app):
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", "--username", "boss", "--email", "b@example.com"],
        input="a-long-password\na-long-password\n",
    )
    assert result.exit_code == 0, result.output
    assert rows_in_step(app) and stored_rows(app)


# --- what a crash can leave, and the repair ----------------------------------------------------


def test_a_crash_after_the_rows_of_a_registration_leaves_no_false_match(
    client, app, caller, monkeypatch
):
    def crash(*args, **kwargs):
        raise pymongo.errors.AutoReconnect("connection lost")

    monkeypatch.setattr(mongomock.collection.Collection, "insert_one", crash)
    body = {"username": "ghost", "email": "ghost@example.com", "password": "password-123"}
    assert client.post(REGISTER, json=body).status_code == 503
    monkeypatch.undo()
    assert any(row.endswith(":ghost") for row in stored_rows(app))
    assert usernames(client.get(f"{USERS}?q=gh", headers=caller)) == []
    assert count_of(client, caller, "gh") == 1  # counts rows until the repair
    repair(app)
    assert rows_in_step(app) and count_of(client, caller, "gh") == 0


def test_a_crash_before_a_renames_cleanup_leaves_only_rows_a_search_skips(
    client, app, caller, make_user, auth_headers, monkeypatch
):
    user, _ = make_user("renamed", name="Ada Lovelace")
    monkeypatch.setattr(stores.users, "resync_rows", lambda user_id: None)
    response = client.patch(
        f"{USERS}/{user['_id']}", json={"name": "Ada Byron"}, headers=auth_headers(user)
    )
    assert response.status_code == 200
    monkeypatch.undo()
    assert usernames(client.get(f"{USERS}?q=lov", headers=caller)) == []
    assert usernames(client.get(f"{USERS}?q=byr", headers=caller)) == ["renamed"]
    assert not rows_in_step(app)
    report = repair(app)
    assert rows_in_step(app) and report.removed == len(search_prefixes("lovelace", []))


def test_stale_rows_at_the_head_of_a_walk_do_not_shorten_the_page(
    client, app, caller, add_listed_user
):
    real = [add_listed_user(f"mx{n}") for n in range(3)]
    with app.app_context():
        ghosts = [
            {
                "_id": row_id(ObjectId(), "mx"),
                "prefix": "mx",
                "username_lc": f"a{n}",
                "created": datetime(2020, 1, 1),
            }
            for n in range(5)
        ]
        get_db().user_prefixes.insert_many(ghosts)
    assert usernames(client.get(f"{USERS}?q=mx&limit=2", headers=caller)) == ["mx0", "mx1"]
    assert walk(client, caller, "q=mx&limit=2") == [user["username"] for user in real]
    assert walk(client, caller, "q=mx&limit=1&sort=created") == [u["username"] for u in real]


def test_repair_adds_missing_rows_removes_stale_ones_and_is_idempotent(app, add_listed_user):
    users = [add_listed_user(f"user{n}", f"Name{n} Surname") for n in range(30)]
    with app.app_context():
        rows = get_db().user_prefixes
        rows.delete_many({"_id": {"$gte": f"{users[3]['_id']}:", "$lt": f"{users[3]['_id']};"}})
        rows.delete_many({"prefix": "surname"})
        rows.insert_many(
            [
                {
                    "_id": row_id(ObjectId(), "zz"),
                    "prefix": "zz",
                    "username_lc": "zz",
                    "created": datetime(2020, 1, 1),
                },
                {
                    "_id": row_id(users[5]["_id"], "old"),
                    "prefix": "old",
                    "username_lc": "user5",
                    "created": users[5]["created"],
                },
            ]
        )
    first = repair(app, batch=7)
    assert rows_in_step(app)
    assert first.users == 30 and first.removed == 2
    assert first.added == len(prefix_rows(users[3])) + 29
    again = repair(app, batch=7)
    assert (again.added, again.removed) == (0, 0)


def test_repair_drops_the_user_indexes_of_the_earlier_design(app):
    with app.app_context():
        get_db().users.create_index(
            [("search_prefixes", 1), ("username_lc", 1)], name="search_username"
        )
    report = repair(app)
    assert report.dropped_indexes == ("search_username",)
    with app.app_context():
        assert "search_username" not in get_db().users.index_information()


def test_reindex_search_command_reports_what_it_did(app, add_listed_user):
    add_listed_user("solo")
    with app.app_context():
        get_db().user_prefixes.delete_many({})
    result = app.test_cli_runner().invoke(args=["users", "reindex-search"])
    assert result.exit_code == 0, result.output
    added = len(search_prefixes("solo", []))
    assert f"search rows of 1 users checked: {added} added, 0 removed" in result.output
    assert rows_in_step(app)


def test_db_init_builds_the_rows_once_for_users_written_before_them(app, add_listed_user):
    add_listed_user("early")
    with app.app_context():
        get_db().user_prefixes.delete_many({})
    result = app.test_cli_runner().invoke(args=["db", "init"])
    assert result.exit_code == 0 and "added" in result.output
    assert rows_in_step(app)
    again = app.test_cli_runner().invoke(args=["db", "init"])
    assert again.exit_code == 0 and "search rows" not in again.output


# --- results are what the contract says, for every sort and both modes --------------------------


@pytest.fixture
def population(app, add_listed_user):
    for index, (username, name) in enumerate(PEOPLE):
        add_listed_user(username, name, created=created_of(index))
    return lambda: all_users(app)


@pytest.fixture
def get_json(client, caller):
    return json_getter(client, caller)


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("q", QUERIES)
def test_search_returns_what_the_contract_says(population, get_json, q, sort):
    check_search(get_json, population(), q, sort)


def test_search_stays_exact_through_registrations_renames_and_deletions(
    client, app, population, get_json, auth_headers
):
    people = {user["username"]: user for user in population()}
    for username, name in (("marian", "Marian Twain"), ("newt", "Zoë Maria")):
        body = {"username": username, "email": f"{username}@example.com", "password": "pw-123456"}
        assert client.post(REGISTER, json={**body, "name": name}).status_code == 201
    for username, name in (("mario_rossi", "Tito Martinez"), ("twain", ""), ("anna.anna", "Zed")):
        user = people[username]
        response = client.patch(
            f"{USERS}/{user['_id']}", json={"name": name}, headers=auth_headers(user)
        )
        assert response.status_code == 200
    for username in ("maria.gomez", "tie03", "long1"):
        user = people[username]
        assert (
            client.delete(f"{USERS}/{user['_id']}", headers=auth_headers(user)).status_code == 204
        )
    assert rows_in_step(app)
    for q in ("m", "mar", "mari", "t", "ti", "twa", "zo", "z", "abcdefghijklmnopq", "anna"):
        for sort in SORTS:
            check_search(get_json, population(), q, sort, limits=(2,))


def count_of(client, headers, q: str) -> int:
    body = client.get(f"{USERS}?q={q}&page=1&per_page=5", headers=headers).get_json()
    return body["meta"]["total"]


def repair(app, batch: int = 1000):
    with app.app_context():
        return user_prefixes.repair_rows(get_db(), batch)


# --- over HTTP ---------------------------------------------------------------------------------


def test_q_matches_username_prefix_case_insensitively(client, caller, add_listed_user):
    add_listed_user("MarkT")
    add_listed_user("amark")
    assert usernames(client.get(f"{USERS}?q=mAr", headers=caller)) == ["MarkT"]


def test_q_matches_a_prefix_of_any_word_of_the_name(client, caller, add_listed_user):
    add_listed_user("u1", "Zoë Martínez López")
    add_listed_user("u2", "Anne Marie")
    add_listed_user("u3", "Bob Smith")
    assert usernames(client.get(f"{USERS}?q=mar", headers=caller)) == ["u1", "u2"]
    assert usernames(client.get(f"{USERS}?q=LÓP", headers=caller)) == ["u1"]


def test_q_does_not_match_inside_a_word(client, caller, add_listed_user):
    add_listed_user("u1", "Lamarck")
    assert usernames(client.get(f"{USERS}?q=mar", headers=caller)) == []


@pytest.mark.parametrize("q", [".*", "(a+)+$", "^", "[a-z]", "a|b", "\\"])
def test_regex_metacharacters_in_q_match_nothing_but_themselves(client, caller, add_listed_user, q):
    add_listed_user("alpha", "Beta Gamma")
    assert usernames(client.get(USERS, query_string={"q": q}, headers=caller)) == []


def test_punctuation_in_q_is_matched_literally(client, caller, add_listed_user):
    add_listed_user("a.b.c")
    add_listed_user("abc")
    assert usernames(client.get(f"{USERS}?q=a.", headers=caller)) == ["a.b.c"]


def test_q_longer_than_the_indexed_prefix_matches_the_whole_prefix(client, caller, add_listed_user):
    add_listed_user("abcdefghijklmnopqrs")
    add_listed_user("abcdefghijklmnopzz")
    add_listed_user("u1", "Abcdefghijklmnopqrstu")
    assert usernames(client.get(f"{USERS}?q=abcdefghijklmnopqr", headers=caller)) == [
        "abcdefghijklmnopqrs",
        "u1",
    ]


def test_blank_q_lists_everyone(client, caller, add_listed_user):
    add_listed_user("bob")
    assert usernames(client.get(f"{USERS}?q=%20%20", headers=caller)) == ["bob", "caller"]


@pytest.mark.parametrize(
    ("query", "field"),
    [({"q": "a" * 101}, "q"), ({"q": "a\x00"}, "q"), ([("q", "a"), ("q", "b")], "q")],
)
def test_bad_q_is_400(client, caller, query, field):
    response = client.get(USERS, query_string=query, headers=caller)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"
    assert field in response.get_json()["error"]["details"]


def test_q_of_100_characters_is_accepted(client, caller):
    assert client.get(USERS, query_string={"q": "a" * 100}, headers=caller).status_code == 200


def test_unknown_sort_is_400(client, caller):
    response = client.get(f"{USERS}?sort=email", headers=caller)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_request"


def test_listing_needs_a_token(client):
    assert client.get(USERS).status_code == 401


def test_page_beyond_the_window_is_refused(client, caller):
    response = client.get(f"{USERS}?q=a&page=501&per_page=20", headers=caller)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "page_window_exceeded"


def test_cursor_from_a_search_is_refused_for_another_q(client, caller, add_listed_user):
    for name in ("mia", "max", "moe"):
        add_listed_user(name)
    cursor = client.get(f"{USERS}?q=m&limit=1", headers=caller).get_json()["meta"]["next_cursor"]
    response = client.get(f"{USERS}?q=mi&limit=1&cursor={cursor}", headers=caller)
    assert response.status_code == 400


def test_listed_users_show_email_only_to_admins(client, add_listed_user, auth_headers):
    add_listed_user("bob")
    admin = auth_headers(add_listed_user("boss", role="admin"))
    user = auth_headers(add_listed_user("carl"))
    as_admin = client.get(f"{USERS}?q=bob", headers=admin).get_json()["items"][0]
    as_user = client.get(f"{USERS}?q=bob", headers=user).get_json()["items"][0]
    assert as_admin["email"] == "bob@example.com" and "email" not in as_user
    assert set(as_user) == {"id", "username", "name", "role", "created", "updated"}


def test_callers_see_their_own_email_in_the_listing(client, caller):
    (item,) = client.get(f"{USERS}?q=caller", headers=caller).get_json()["items"]
    assert item["email"] == "caller@example.com"


@pytest.mark.parametrize(
    ("sort_name", "key", "reverse"),
    [
        ("username", "username", False),
        ("-username", "username", True),
        ("created", "created", False),
        ("-created", "created", True),
    ],
)
def test_cursor_walk_visits_every_match_once_in_order_with_ties(
    client, caller, add_listed_user, sort_name, key, reverse
):
    # Three creation times shared by many users: the order must still be total.
    times = [datetime(2024, 1, day) for day in (1, 2, 3)]
    docs = [add_listed_user(f"tie{n:02d}", "Tied", created=times[n % 3]) for n in range(13)]
    add_listed_user("other", "Untied")
    seen = walk(client, caller, f"q=ti&sort={sort_name}&limit=2")
    expected = sorted(docs, key=lambda d: (d[key], d["_id"]) if key == "created" else d[key])
    assert seen == [d["username"] for d in (expected[::-1] if reverse else expected)]


def test_long_q_needs_one_word_with_the_whole_prefix_not_two_words_around_it(
    client, caller, add_listed_user
):
    # One word sorts after the prefix and one before its end: neither starts with it.
    add_listed_user("u1", "Abcdefghijklmnopz Abcdefghijklmnopa")
    assert usernames(client.get(f"{USERS}?q=abcdefghijklmnopq", headers=caller)) == []


@pytest.mark.parametrize(
    ("stored", "typed"), [("Zoe\u0308", "zo\u00eb"), ("Zo\u00eb", "zoe\u0308")]
)
def test_q_matches_accented_names_however_the_accent_is_encoded(
    client, caller, add_listed_user, stored, typed
):
    add_listed_user("u1", f"{stored} Smith")
    assert usernames(client.get(USERS, query_string={"q": typed}, headers=caller)) == ["u1"]


def test_a_renamed_user_is_still_found_by_its_username(client, caller, make_user, auth_headers):
    user, _ = make_user("bo.x", name="Old Name")
    patch = client.patch(f"{USERS}/{user['_id']}", json={"name": "Al"}, headers=auth_headers(user))
    assert patch.status_code == 200
    assert usernames(client.get(f"{USERS}?q=bo.", headers=caller)) == ["bo.x"]
    assert usernames(client.get(f"{USERS}?q=al", headers=caller)) == ["bo.x"]
    assert usernames(client.get(f"{USERS}?q=old", headers=caller)) == []
