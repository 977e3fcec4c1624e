"""Bulk fake users for demos and benchmarks: `flask --app run users seed --count N [--seed S]`.

Users are deterministic for a seed: user number i always gets the same name, username, email and
creation time, so a rerun produces the same documents and the unique indexes turn them into
duplicate-key errors, which are counted and skipped. Names come from Faker's name lists in several
locales, drawn with their frequencies, so prefix searches see realistic selectivity (many "ma...",
few "zy..."). Every seeded account has the same password, SEED_PASSWORD, hashed once: hashing a
million passwords with argon2 would take hours. Each batch writes the users' search rows
(stores/user_prefixes.py) before the users, as every other write path does, so a seeded user that
exists is always found.
"""

from __future__ import annotations

import random
import re
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from itertools import islice
from typing import Any

import pymongo
from bson import ObjectId
from faker import Faker
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError

from services.passwords import hash_password
from stores.duplicate_keys import duplicates_only
from stores.user_prefixes import add_rows, prefix_rows, remove_rows, rows_in
from stores.users import build_user_document

SEED_PASSWORD = "seeded-user-password"  # noqa: S105 - documented, shared by seeded accounts
DEFAULT_BATCH = 10_000
MAX_BATCH = 25_000  # some MongoDB-wire servers take at most this many documents per insert
BATCH_TIMEOUT_SECONDS = 300
IN_FLIGHT = 2
LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pl_PL", "pt_BR", "sv_SE")
NAME_POOL = 5_000  # draws per list: frequent names recur, as in Faker's weighted lists
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
FIRST_CREATED = datetime(2021, 1, 1)
NOT_LETTER = re.compile(r"[^a-z]")


@dataclass
class SeedReport:
    requested: int
    inserted: int = 0
    duplicates: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.requested / self.seconds if self.seconds else 0.0


def ascii_letters(text: str) -> str:
    """The lowercase ASCII letters of `text` ("Gómez-Ruiz" -> "gomezruiz")."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return NOT_LETTER.sub("", folded.lower())


@cache
def name_pools(seed: int) -> tuple[list[str], list[str]]:
    """First and last names drawn from Faker (slow per call, so drawn once per seed)."""
    faker = Faker(list(LOCALES))
    faker.seed_instance(seed)
    return [faker.first_name() for _ in range(NAME_POOL)], [
        faker.last_name() for _ in range(NAME_POOL)
    ]


class FakeUsers:
    """The user fields of seeded user number i, for one seed (generated in order)."""

    def __init__(self, seed: int) -> None:
        self.first_names, self.last_names = name_pools(seed)
        self.random = random.Random(seed)  # noqa: S311 - fake data, reproducible by design

    def name(self) -> str:
        pick = self.random.choice
        roll = self.random.random()
        if roll < 0.1:  # a middle name
            return f"{pick(self.first_names)} {pick(self.first_names)} {pick(self.last_names)}"
        if roll < 0.15:  # a double surname
            return f"{pick(self.first_names)} {pick(self.last_names)} {pick(self.last_names)}"
        return f"{pick(self.first_names)} {pick(self.last_names)}"

    def username(self, name: str, number: int) -> str:
        """A username in one of a few common styles; the number suffix makes it unique (the
        part before it has no digits, so two numbers never give the same name)."""
        words = [ascii_letters(word) for word in name.split()]
        first, last = words[0] or "user", words[-1] or "user"
        base = self.random.choice(
            (f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}", f"{last}{first[0]}")
        )
        suffix = str(number)
        return base[: 32 - len(suffix)] + suffix

    def fields(self, number: int) -> tuple[str, str, str, datetime]:
        """(username, email, name, created) of user `number`."""
        name = self.name()
        username = self.username(name, number)
        email = f"{username}@{self.random.choice(EMAIL_DOMAINS)}"
        # About one sign-up a minute, in order, at millisecond precision (as MongoDB stores).
        created = FIRST_CREATED + timedelta(
            milliseconds=number * 60_000 + self.random.randrange(60_000)
        )
        return username, email, name, created


def generate_users(
    count: int, seed: int, password_hash: str, start: int = 0
) -> Iterator[dict[str, Any]]:
    """User documents number `start` .. `start + count - 1` for `seed`, ready to insert."""
    fake = FakeUsers(seed)
    for number in range(start + count):
        username, email, name, created = fake.fields(number)
        if number < start:
            continue  # drawn all the same, so user i is the same whatever `start` is
        document = build_user_document(username, email, password_hash, name)
        document["created"] = document["updated"] = created
        document["_id"] = seeded_user_id(seed, number, created)
        yield document


def seeded_user_id(seed: int, number: int, created: datetime) -> ObjectId:
    """The same `_id` for user `number` of `seed` on every run: the creation time (as any
    ObjectId starts), then the seed and the number. A rerun's rows are then duplicates too."""
    timestamp = ObjectId.from_datetime(created).binary[:4]
    return ObjectId(timestamp + (seed % 2**24).to_bytes(3, "big") + number.to_bytes(5, "big"))


def insert_batch(collection: Collection, documents: list[dict[str, Any]]) -> tuple[int, int]:
    """Insert the users' search rows, then the users, unordered; returns (inserted, duplicates).

    Any error but a duplicate key is raised. A rerun finds both rows and users there already
    (same seed, same `_id`s); the rows this batch added for a user refused as a duplicate (its
    username or email taken by another account) are removed again.
    """
    rows = rows_in(collection.database)
    # A big batch on a busy server outlasts the app's short socket timeout (meant for
    # requests): the seed command gives each insert its own, longer deadline.
    with pymongo.timeout(BATCH_TIMEOUT_SECONDS):
        # In index order: consecutive inserts land on neighbouring index pages, which matters
        # once the search indexes outgrow the server's cache.
        batch_rows = sorted(
            (row for doc in documents for row in prefix_rows(doc)),
            key=lambda row: (row["prefix"], row["username_lc"]),
        )
        added = set(add_rows(rows, batch_rows))
        try:
            return len(collection.insert_many(documents, ordered=False).inserted_ids), 0
        except BulkWriteError as error:
            errors = duplicates_only(error)
            refused = [documents[e["index"]] for e in errors]
            strays = [row["_id"] for doc in refused for row in prefix_rows(doc)]
            remove_rows(rows, [row_id for row_id in strays if row_id in added])
            return error.details.get("nInserted", 0), len(errors)


def seed_users(
    collection: Collection,
    count: int,
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH,
    start: int = 0,
    progress: Callable[[int], None] | None = None,
) -> SeedReport:
    """Insert `count` fake users in unordered batches; duplicates (a rerun) are counted, skipped.

    Two batches are in flight at a time, so the next batch is built while the server indexes
    the last one. `start` skips the first users of the seed (to grow a seeded collection).
    """
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch_size must be 1..{MAX_BATCH}")
    report = SeedReport(requested=count)
    began = time.perf_counter()
    documents = generate_users(count, seed, hash_password(SEED_PASSWORD), start)
    with ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="seed") as pool:
        pending: deque[tuple[Future[tuple[int, int]], int]] = deque()
        while batch := list(islice(documents, batch_size)):
            pending.append((pool.submit(insert_batch, collection, batch), len(batch)))
            if len(pending) >= IN_FLIGHT:
                _collect(*pending.popleft(), report, progress)
        while pending:
            _collect(*pending.popleft(), report, progress)
    report.seconds = time.perf_counter() - began
    return report


def _collect(
    future: Future[tuple[int, int]],
    size: int,
    report: SeedReport,
    progress: Callable[[int], None] | None,
) -> None:
    inserted, duplicates = future.result()
    report.inserted += inserted
    report.duplicates += duplicates
    if progress:
        progress(size)
