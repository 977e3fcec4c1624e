"""The todos store below HTTP: prefix ranges, owner-wide deletion, and the indexes its queries use."""

from __future__ import annotations

import pytest
from bson import ObjectId

from db import INDEXES, get_db
from stores.todos import (
    SORTS,
    build_todo_document,
    delete_todos_of_owner,
    insert_todo,
    list_filter,
    list_sorts,
    prefix_range,
)

WORDS = [
    "",
    "a",
    "ab",
    "abc",
    "abd",
    "ac",
    "b",
    "a\U0010ffff",
    "a\U0010ffffz",
    "\ud7ff",
    "\ud7ffx",
    "\ue000",
    "\U0010ffff",
    "\U0010ffff\U0010ffff",
    "é",
    "éa",
    "f",
]


def in_range(word: str, bounds: dict[str, str]) -> bool:
    # BSON compares strings by their UTF-8 bytes.
    key = word.encode()
    low = bounds["$gte"].encode()
    return key >= low and ("$lt" not in bounds or key < bounds["$lt"].encode())


@pytest.mark.parametrize(
    "prefix", ["a", "ab", "é", "\ud7ff", "a\U0010ffff", "\U0010ffff", "\U0010ffff\U0010ffff"]
)
def test_prefix_range_holds_exactly_the_words_with_that_prefix(prefix):
    bounds = prefix_range(prefix)
    assert {w for w in WORDS if in_range(w, bounds)} == {w for w in WORDS if w.startswith(prefix)}


def test_prefix_range_bounds_are_encodable_strings():
    for prefix in ("a", "\ud7ff", "a\U0010ffff"):
        for bound in prefix_range(prefix).values():
            bound.encode()  # a lone surrogate would raise here, and in the BSON encoder


def test_list_filter_carries_the_owner_and_plain_values():
    owner = ObjectId()
    query = list_filter(owner, done=False, tags=["x"], title_prefix="A.*")
    assert query == {
        "owner_id": owner,
        "done": False,
        "tags": "x",
        "title_lc": {"$gte": "a.*", "$lt": "a.+"},
    }


def test_delete_todos_of_owner_deletes_theirs_only_and_counts(app, make_user):
    alice, bob = make_user()[0]["_id"], make_user()[0]["_id"]
    with app.app_context():
        for owner, count in ((alice, 3), (bob, 2)):
            for n in range(count):
                insert_todo(build_todo_document(owner, "someone", {"title": f"t{n}"}))
        assert delete_todos_of_owner(alice) == 3
        assert delete_todos_of_owner(alice) == 0
        assert get_db().todos.count_documents({"owner_id": bob}) == 2


DECLARED = {
    model.document["name"]: list(model.document["key"].items()) for model in INDEXES["todos"]
}


@pytest.mark.parametrize("sort_name", list(SORTS))
def test_every_sort_hints_its_own_owner_key_id_index_in_its_direction(sort_name):
    sort = SORTS[sort_name]
    assert DECLARED[sort.index] == [
        ("owner_id", 1),
        (sort.field, sort.direction),
        ("_id", sort.direction),
    ]


@pytest.mark.parametrize("sort_name", list(SORTS))
def test_with_a_title_prefix_every_sort_hints_the_title_index(sort_name):
    sort = list_sorts("abc")[sort_name]
    assert (sort.field, sort.direction) == (SORTS[sort_name].field, SORTS[sort_name].direction)
    assert DECLARED[sort.index][:2] == [("owner_id", 1), ("title_lc", 1)]


def test_without_a_title_prefix_the_plain_sorts_apply():
    assert list_sorts("") is SORTS
