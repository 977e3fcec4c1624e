"""`GET /todos`: filters, sorts, and both pagination modes, always within the caller's todos."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.support import TODOS


@pytest.fixture
def alice(add_user):
    return add_user("alice")["headers"]


@pytest.fixture
def create(client):
    def create_todo(headers: dict, title: str = "todo", **fields) -> dict:
        response = client.post(TODOS, json={"title": title, **fields}, headers=headers)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return create_todo


@pytest.fixture
def listing(client, alice):
    """`listing(**query) -> response` for alice."""

    def get(headers: dict | None = None, **query) -> object:
        return client.get(f"{TODOS}?{urlencode(query, doseq=True)}", headers=headers or alice)

    return get


def titles(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [item["title"] for item in response.get_json()["items"]]


def walk(client, headers: dict, between_pages=None, **query) -> list[dict]:
    """Every item of a list, following `next_cursor` from the first page."""
    items, pages = [], 0
    response = client.get(f"{TODOS}?{urlencode(query)}", headers=headers)
    while True:
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        items += body["items"]
        pages += 1
        assert pages < 100, "the cursor walk does not end"
        cursor = body["meta"]["next_cursor"]
        if cursor is None:
            assert "next" not in body["links"]
            return items
        if between_pages:
            between_pages(pages)
        response = client.get(f"{TODOS}?{urlencode({**query, 'cursor': cursor})}", headers=headers)


# --- filters ------------------------------------------------------------------------------------


def test_list_is_empty_for_a_new_user(listing):
    response = listing()
    assert response.get_json()["items"] == []
    assert response.get_json()["meta"] == {"limit": 20, "next_cursor": None}


def test_done_filter_true_and_false(listing, create, alice):
    create(alice, "open")
    create(alice, "closed", done=True)
    assert titles(listing(done="true")) == ["closed"]
    assert titles(listing(done="false")) == ["open"]


@pytest.mark.parametrize("value", ["yes", "1", "True", "", "null", '{"$ne": null}'])
def test_done_filter_other_than_true_or_false_is_400(listing, value):
    response = listing(done=value)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


def test_tag_filter_matches_todos_carrying_the_tag(listing, create, alice):
    create(alice, "home+work", tags=["home", "work"])
    create(alice, "work", tags=["work"])
    create(alice, "none")
    assert sorted(titles(listing(tag="work"))) == ["home+work", "work"]
    assert titles(listing(tag="home")) == ["home+work"]


def test_tag_filter_is_exact_and_case_sensitive(listing, create, alice):
    create(alice, "w", tags=["work"])
    assert titles(listing(tag="wor")) == []
    assert titles(listing(tag="Work")) == []


def test_repeated_tag_filters_require_every_tag(listing, create, alice):
    create(alice, "both", tags=["a", "b"])
    create(alice, "a only", tags=["a"])
    assert titles(listing(tag=["a", "b"])) == ["both"]


@pytest.mark.parametrize("value", ["", "t" * 31])
def test_tag_filter_of_impossible_length_is_400(listing, value):
    assert listing(tag=value).status_code == 400


def test_q_matches_a_case_insensitive_title_prefix(listing, create, alice):
    for title in ("Buy milk", "buying time", "BUY", "Go buy milk", "Bu"):
        create(alice, title)
    assert sorted(titles(listing(q="buy"))) == ["BUY", "Buy milk", "buying time"]
    assert sorted(titles(listing(q="BUY M"))) == ["Buy milk"]


def test_q_is_a_prefix_not_a_substring(listing, create, alice):
    create(alice, "Go buy milk")
    assert titles(listing(q="buy")) == []


def test_q_folds_case_beyond_ascii(listing, create, alice):
    create(alice, "STRASSE fegen")
    create(alice, "Ärger")
    assert titles(listing(q="straße")) == ["STRASSE fegen"]
    assert titles(listing(q="är")) == ["Ärger"]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("a.c", ["a.c"]),
        (".", []),
        (".*", []),
        ("^", ["^caret"]),
        ("(", ["(paren"]),
        ("[a", []),
        ("a+", ["a+b"]),
        ("\\", ["\\slash"]),
        ('{"$ne": null}', []),
    ],
)
def test_q_takes_regex_metacharacters_literally(listing, create, alice, q, expected):
    for title in ("a.c", "abc", "^caret", "(paren", "a+b", "aab", "\\slash"):
        create(alice, title)
    assert titles(listing(q=q)) == expected


def test_empty_q_filters_nothing(listing, create, alice):
    create(alice, "x")
    assert titles(listing(q="")) == ["x"]


def test_filters_combine(listing, create, alice):
    create(alice, "Buy milk", done=True, tags=["shop"])
    create(alice, "Buy bread", done=False, tags=["shop"])
    create(alice, "Buy time", done=True, tags=["life"])
    assert titles(listing(q="buy", done="true", tag="shop")) == ["Buy milk"]


def test_filters_never_reach_another_users_todos(listing, create, alice, add_user):
    bob = add_user("bob")["headers"]
    create(bob, "Buy milk", done=True, tags=["shop"])
    assert titles(listing(q="buy", done="true", tag="shop")) == []
    assert titles(listing(page=1, per_page=10)) == []
    assert listing(page=1, per_page=10).get_json()["meta"]["total"] == 0


# --- sorts --------------------------------------------------------------------------------------


@pytest.fixture
def dated(create, alice):
    """Five todos created in this order: (title, due)."""
    rows = [
        ("b", "2030-03-01"),
        ("C", None),
        ("a", "2030-01-01"),
        ("d", "2030-02-01"),
        ("e", None),
    ]
    return [create(alice, title, due=due) for title, due in rows]


def test_default_sort_is_newest_first(listing, dated):
    assert titles(listing()) == ["e", "d", "a", "C", "b"]


def test_sort_created_is_oldest_first(listing, dated):
    assert titles(listing(sort="created")) == ["b", "C", "a", "d", "e"]


def test_sort_minus_created_equals_the_default(listing, dated):
    assert titles(listing(sort="-created")) == titles(listing())


def test_sort_due_is_soonest_first_with_undated_last(listing, dated):
    assert titles(listing(sort="due")) == ["a", "d", "b", "C", "e"]


def test_sort_minus_due_is_latest_first_with_undated_first(listing, dated):
    assert titles(listing(sort="-due")) == ["e", "C", "b", "d", "a"]


def test_sort_title_ignores_case(listing, dated):
    assert titles(listing(sort="title")) == ["a", "b", "C", "d", "e"]


def test_items_render_due_from_the_real_field(listing, dated):
    dues = [item["due"] for item in listing(sort="due").get_json()["items"]]
    assert dues == ["2030-01-01", "2030-02-01", "2030-03-01", None, None]


@pytest.mark.parametrize("sort", ["due_sort", "title_lc", "-title", "updated", "", "_id"])
def test_unknown_sort_is_400(listing, sort):
    response = listing(sort=sort)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


# --- cursor pagination --------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["-created", "created", "due", "-due", "title"])
def test_cursor_walk_visits_every_todo_once_in_order_despite_ties(client, create, alice, sort):
    # Many ties in every key: four titles, three due values (one of them "none"), and creation
    # times that share milliseconds.
    for n in range(23):
        create(alice, ["same", "Same", "other", "zzz"][n % 4], due=[None, "2030-01-01"][n % 3 % 2])
    walked = walk(client, alice, sort=sort, limit=4)
    full = client.get(f"{TODOS}?sort={sort}&limit=100", headers=alice).get_json()["items"]
    assert len(full) == 23
    assert [item["id"] for item in walked] == [item["id"] for item in full]


def test_cursor_walk_with_a_single_due_date_for_all(client, create, alice):
    ids = {create(alice, f"t{n}", due="2030-06-01")["id"] for n in range(17)}
    for sort in ("due", "-due"):
        walked = [item["id"] for item in walk(client, alice, sort=sort, limit=5)]
        assert len(walked) == len(set(walked)) == 17
        assert set(walked) == ids


def test_todos_added_between_pages_never_repeat_or_hide_earlier_ones(client, create, alice):
    original = {create(alice, f"t{n}", due="2030-06-01")["id"] for n in range(12)}
    added: list[str] = []

    def add_more(page: int) -> None:
        # Same due date (ties the page boundary), an earlier one (before the cursor) and a later one.
        for due in ("2030-06-01", "2030-01-01", "2031-01-01"):
            added.append(create(alice, f"new{page}-{due}", due=due)["id"])

    walked = [
        item["id"] for item in walk(client, alice, between_pages=add_more, sort="due", limit=5)
    ]
    assert len(walked) == len(set(walked)), "an item was served twice"
    assert original <= set(walked), "an item present from the start was skipped"
    assert set(walked) <= original | set(added)


def test_next_page_has_link_header_and_links_next(listing, create, alice):
    for n in range(3):
        create(alice, f"t{n}")
    response = listing(limit=2)
    body = response.get_json()
    assert body["meta"]["next_cursor"]
    assert body["links"]["next"].startswith("/api/v1/todos?")
    assert response.headers["Link"] == f'<{body["links"]["next"]}>; rel="next"'


def test_garbage_cursor_is_400(listing):
    response = listing(cursor="not-a-cursor")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


def test_cursor_of_another_filter_is_400(listing, create, alice):
    for n in range(3):
        create(alice, f"t{n}", done=True)
    cursor = listing(limit=1, done="true").get_json()["meta"]["next_cursor"]
    assert listing(limit=1, done="false", cursor=cursor).status_code == 400


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten"])
def test_limit_out_of_range_is_400(listing, limit):
    assert listing(limit=limit).status_code == 400


# --- page mode ----------------------------------------------------------------------------------


def test_page_mode_reports_total_and_serves_the_requested_page(listing, create, alice):
    for n in range(7):
        create(alice, f"t{n}", due=f"2030-01-0{n + 1}")
    body = listing(sort="due", page=2, per_page=3).get_json()
    assert [item["title"] for item in body["items"]] == ["t3", "t4", "t5"]
    assert body["meta"]["page"] == 2 and body["meta"]["per_page"] == 3
    assert body["meta"]["total"] == 7
    assert "page=3" in body["links"]["next"]


def test_page_mode_total_counts_only_matching_todos(listing, create, alice):
    create(alice, "a", done=True)
    create(alice, "b")
    assert listing(page=1, per_page=10, done="true").get_json()["meta"]["total"] == 1


@pytest.mark.parametrize(("page", "per_page"), [(101, 100), (201, 50), (5001, 2)])
def test_page_beyond_the_window_is_400_page_window_exceeded(listing, page, per_page):
    response = listing(page=page, per_page=per_page)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "page_window_exceeded"


def test_last_page_inside_the_window_is_allowed(listing):
    assert listing(page=100, per_page=100).status_code == 200
