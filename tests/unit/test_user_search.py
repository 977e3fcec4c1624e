"""GET /users on mongomock: prefix search, sorts, both pagination modes, and the queries issued."""

from __future__ import annotations

from datetime import datetime

import pytest
from pymongo import ASCENDING, DESCENDING

import stores.user_search as user_search
from db import INDEXES, get_db
from stores.user_search import (
    SEARCH_PREFIX_MAX,
    SEARCH_SORTS,
    USER_SORTS,
    count_matches,
    prefix_range,
    search_filter,
    search_prefixes,
    search_prefixes_for,
)
from stores.users import build_user_document
from tests.support import USERS

PASSWORD_HASH = "unused: listing never checks passwords"


@pytest.fixture
def add_listed_user(app):
    """Factory: insert a searchable user straight into the store; returns the document."""

    def add(username: str, name: str = "", created: datetime | None = None, role: str = "user"):
        document = build_user_document(
            username, f"{username}@example.com", PASSWORD_HASH, name, role
        )
        if created is not None:
            document["created"] = document["updated"] = created
        with app.app_context():
            document["_id"] = get_db().users.insert_one(document).inserted_id
        return document

    return add


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


# --- query building ----------------------------------------------------------------------------


def test_search_prefixes_cover_username_and_each_name_word():
    assert search_prefixes("ann.lee", ["ann", "marie"]) == [
        *["a", "an", "ann", "ann.", "ann.l", "ann.le", "ann.lee"],
        *["m", "ma", "mar", "mari", "marie"],
    ]


def test_search_prefixes_stop_at_the_longest_indexed_prefix():
    prefixes = search_prefixes("x" * 40, [])
    assert max(map(len, prefixes)) == SEARCH_PREFIX_MAX == len(prefixes)


def test_short_query_is_one_equality_on_the_stored_prefixes():
    assert search_filter("ma") == {"search_prefixes": "ma"}


def test_long_query_also_checks_the_whole_prefix_on_username_or_one_name_word():
    q = "abcdefghijklmnopqr"
    bounds = {"$gte": q, "$lt": "abcdefghijklmnopqs"}
    assert search_filter(q) == {
        "search_prefixes": q[:SEARCH_PREFIX_MAX],
        "$or": [{"username_lc": bounds}, {"name_words": {"$elemMatch": bounds}}],
    }


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


def index_keys(name: str) -> list[tuple[str, int]]:
    (model,) = [m for m in INDEXES["users"] if m.document["name"] == name]
    return list(model.document["key"].items())


@pytest.mark.parametrize("sort_name", list(USER_SORTS))
def test_each_listing_sort_hints_an_index_walked_in_its_own_direction(sort_name):
    sort = USER_SORTS[sort_name]
    assert index_keys(sort.index) == [(sort.field, sort.direction), ("_id", sort.direction)]


@pytest.mark.parametrize("sort_name", list(SEARCH_SORTS))
def test_each_search_sort_hints_prefix_equality_then_its_sort_key(sort_name):
    sort = SEARCH_SORTS[sort_name]
    keys = index_keys(sort.index)
    assert keys[:2] == [("search_prefixes", ASCENDING), (sort.field, ASCENDING)]
    assert keys[2:] in ([], [("_id", ASCENDING)])
    assert sort.unique == (keys[2:] == [])


class RecordingCursor:
    def __init__(self, cursor, record: dict) -> None:
        self.cursor, self.record = cursor, record

    def __getattr__(self, option):
        def set_option(value):
            self.record[option] = value
            self.cursor = getattr(self.cursor, option)(value)
            return self

        return set_option

    def __iter__(self):
        return iter(self.cursor)


class RecordingUsers:
    """The users collection, recording the find / count calls made on it."""

    def __init__(self, collection) -> None:
        self.collection, self.calls = collection, []

    def find(self, query_filter, projection=None):
        record = {"find": query_filter, "projection": projection}
        self.calls.append(record)
        return RecordingCursor(self.collection.find(query_filter, projection), record)

    def count_documents(self, query_filter, **kwargs):
        self.calls.append({"count_documents": query_filter, **kwargs})
        return self.collection.count_documents(query_filter, **kwargs)

    def estimated_document_count(self):
        self.calls.append({"estimated_document_count": True})
        return self.collection.estimated_document_count()


@pytest.fixture
def issued(monkeypatch):
    """The calls GET /users makes on the users collection."""
    recorder = {}

    class Db:
        @property
        def users(self):
            recorder.setdefault("users", RecordingUsers(get_db().users))
            return recorder["users"]

    monkeypatch.setattr(user_search, "get_db", lambda: Db())
    return lambda: recorder["users"].calls


def test_search_page_is_a_hinted_equality_bounded_by_limit_plus_one(client, caller, issued):
    client.get(f"{USERS}?q=Ma&limit=5", headers=caller)
    (call,) = issued()
    assert call["find"] == {"search_prefixes": "ma"}
    assert call["sort"] == [("username_lc", ASCENDING)]
    assert call["hint"] == "search_username"
    assert (call["skip"], call["limit"]) == (0, 6)
    assert "password_hash" not in call["projection"]


def test_next_search_page_starts_after_the_cursor_key(client, caller, add_listed_user, issued):
    for name in ("mia", "max", "moe"):
        add_listed_user(name)
    first = client.get(f"{USERS}?q=m&limit=2", headers=caller).get_json()
    client.get(first["links"]["next"], headers=caller)
    second = issued()[-1]
    assert second["find"] == {"search_prefixes": "m", "username_lc": {"$gt": "mia"}}
    assert (second["skip"], second["hint"]) == (0, "search_username")


def test_next_page_by_created_excludes_only_the_ties_already_seen(
    client, caller, add_listed_user, issued
):
    same = datetime(2024, 5, 1)
    docs = [add_listed_user(name, created=same) for name in ("mia", "max", "moe")]
    first = client.get(f"{USERS}?q=m&sort=-created&limit=2", headers=caller).get_json()
    client.get(first["links"]["next"], headers=caller)
    call = issued()[-1]
    last_id = sorted(doc["_id"] for doc in docs)[-2]
    assert call["find"] == {
        "search_prefixes": "m",
        "created": {"$lte": same},
        "$nor": [{"created": same, "_id": {"$gte": last_id}}],
    }
    assert call["sort"] == [("created", DESCENDING), ("_id", DESCENDING)]
    assert call["hint"] == "search_created_id"


@pytest.mark.parametrize("sort_name", list(USER_SORTS))
def test_listing_without_q_hints_the_sort_orders_own_index(client, caller, issued, sort_name):
    client.get(f"{USERS}?sort={sort_name}", headers=caller)
    (call,) = issued()
    assert call["find"] == {} and call["hint"] == USER_SORTS[sort_name].index


def test_cursor_mode_never_counts(client, caller, issued):
    client.get(f"{USERS}?q=c", headers=caller)
    client.get(USERS, headers=caller)
    assert all("find" in call for call in issued())


def test_page_mode_without_q_totals_with_the_estimated_count(client, caller, issued):
    body = client.get(f"{USERS}?page=1&per_page=5", headers=caller).get_json()
    assert body["meta"]["total"] == 1
    assert {"estimated_document_count": True} in issued()


def test_page_mode_with_q_counts_no_further_than_the_page_window(client, caller, issued):
    body = client.get(f"{USERS}?q=cal&page=1&per_page=5", headers=caller).get_json()
    assert body["meta"]["total"] == 1
    assert {"count_documents": {"search_prefixes": "cal"}, "limit": 10_000} in issued()


def test_count_of_matches_stops_at_the_cap(app, add_listed_user):
    for name in ("mia", "max", "moe"):
        add_listed_user(name)
    with app.app_context():
        assert count_matches({"search_prefixes": "m"}, cap=2) == 2


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


def test_search_prefixes_for_a_new_name_keep_the_username_ones():
    assert search_prefixes_for("Bo.X", "Al") == ["b", "bo", "bo.", "bo.x", "a", "al"]
