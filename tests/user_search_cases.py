"""User search as the contract states it, for the unit (mongomock) and integration (FerretDB)
tests: users with the hard cases, what every search must return (worked out from the users
alone, never from the search rows), and readers of every page of a search in both pagination
modes.

The contract: `q` (trimmed, lowercased, composed) matches a user whose lowercase username or a
word of whose name starts with it; results are ordered by the sort's key, ties on `created`
broken by `_id`; page mode's `total` counts the matches up to the 10,000-item window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from core.text import normalise_query
from stores.user_prefixes import prefix_rows
from stores.users import build_user_document, insert_user
from tests.support import USERS

TIES = [datetime(2024, 1, day, 12, 0) for day in (1, 2, 3)]
# (username, name): shared first letters, prefixes of one user's username in another's name,
# accents composed and decomposed, repeated words, punctuation, names and usernames longer than
# SEARCH_PREFIX_MAX that share their first SEARCH_PREFIX_MAX characters.
PEOPLE = [
    ("maria.gomez", "María Gómez"),
    ("mario_rossi", "Mario Rossi"),
    ("mgarcia", "Marie Garcia"),
    ("mark.t", "Mark Twain"),
    ("twain", "Sam Mark"),
    ("marta", ""),
    ("amar", "Lamarck"),
    ("zoe1", "Zoe\u0308 Martin"),
    ("zoe2", "Zo\u00eb Smith"),
    ("lukasz", "\u0141ukasz \u015aledzi\u0144ski"),
    ("oscar", "\u00d3scar \u00c5ngstr\u00f6m"),
    ("anna.anna", "Anna Anna Anna"),
    ("obrien", "Pat O'Brien"),
    ("a.b.c", "Dot Name"),
    ("abc", "Plain Name"),
    ("abcdefghijklmnopqrs", ""),
    ("abcdefghijklmnopzz", ""),
    ("long1", "Abcdefghijklmnopqrstu"),
    ("long2", "Abcdefghijklmnopz Abcdefghijklmnopa"),
    ("marcus", "Marcus Aurelius"),
    ("maren", "Maren Martinez-Lopez"),
    *[(f"tie{n:02d}", f"Tied Mar{n}") for n in range(12)],
]
QUERIES = [
    "m",
    "ma",
    "mar",
    "MAR",
    "mari",
    "maria",
    "mart",
    "t",
    "ti",
    "zo",
    "zo\u00eb",
    "zoe\u0308",
    "\u0142u",
    "\u00e5ng",
    "anna",
    "o",
    "a.",
    "abc",
    "abcdefghijklmnop",
    "abcdefghijklmnopq",
    "abcdefghijklmnopqr",
    "nobody",
]
SORTS = ["username", "-username", "created", "-created"]


def created_of(index: int) -> datetime:
    """Every third user shares one of three creation times, so `created` has ties to break."""
    if index % 3 == 0:
        return TIES[index % len(TIES)]
    return datetime(2023, 1, 1 + index % 28, index % 24, index % 60)


def add_listed_user(
    app, username: str, name: str = "", created: datetime | None = None, role: str = "user"
) -> dict[str, Any]:
    """Insert a searchable user through the store, as sign-up does; returns the document."""
    document = build_user_document(username, f"{username}@example.com", "-", name, role)
    if created is not None:
        document["created"] = document["updated"] = created
    with app.app_context():
        return insert_user(document)


def json_getter(client, headers: dict[str, str]) -> Callable[..., Any]:
    """`get(path, query=None)`: the JSON body of the 200 an authenticated GET must answer."""

    def get(path: str, query: Mapping[str, Any] | None = None) -> Any:
        response = client.get(path, query_string=query, headers=headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    return get


def matches(user: Mapping[str, Any], q: str) -> bool:
    return any(term.startswith(q) for term in (user["username_lc"], *user["name_words"]))


def sort_key(sort: str) -> Callable[[Mapping[str, Any]], Any]:
    if sort.lstrip("-") == "username":
        return lambda user: user["username_lc"]
    return lambda user: (user["created"], user["_id"])


def expected_usernames(users: Iterable[Mapping[str, Any]], q: str, sort: str) -> list[str]:
    """What a search must return, from the user documents alone."""
    wanted = normalise_query(q)
    found = sorted(
        (user for user in users if matches(user, wanted)),
        key=sort_key(sort),
        reverse=sort.startswith("-"),
    )
    return [user["username"] for user in found]


def expected_rows(users: Iterable[Mapping[str, Any]]) -> set[str]:
    """The `_id`s of the search rows that exactly these users need."""
    return {row["_id"] for user in users for row in prefix_rows(user)}


def walk(get: Callable[..., Any], query: dict[str, Any]) -> list[str]:
    """Every username of a search, following `links.next` from the first page to the last.

    `get(path, query_string=None)` returns the decoded JSON body of a 200 response.
    """
    body = get(USERS, query)
    seen = [item["username"] for item in body["items"]]
    while next_link := body["links"].get("next"):
        body = get(next_link)
        seen += [item["username"] for item in body["items"]]
    return seen


def page_through(get: Callable[..., Any], query: dict[str, Any], per_page: int) -> list[dict]:
    """Every page of a search in page mode, up to the first one that is not full."""
    pages = []
    while True:
        body = get(USERS, {**query, "page": len(pages) + 1, "per_page": per_page})
        pages.append(body)
        if len(body["items"]) < per_page:
            return pages


def check_search(
    get: Callable[..., Any],
    users: list[Mapping[str, Any]],
    q: str,
    sort: str,
    limits: Iterable[int] = (1, 3),
) -> None:
    """Assert both pagination modes return exactly what the contract says for (q, sort)."""
    expected = expected_usernames(users, q, sort)
    query = {"q": q, "sort": sort}
    for limit in limits:
        assert walk(get, {**query, "limit": limit}) == expected, (q, sort, limit)
    pages = page_through(get, query, 4)
    assert [item["username"] for page in pages for item in page["items"]] == expected, (q, sort)
    assert {page["meta"]["total"] for page in pages} == {len(expected)}, (q, sort)
