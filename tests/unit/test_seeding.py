"""Seeding fake users: deterministic, valid, searchable, and safe to rerun."""

from __future__ import annotations

import re

import pytest
from pymongo.errors import BulkWriteError

from db import get_db
from services.passwords import verify_password
from services.seeding import (
    SEED_PASSWORD,
    generate_users,
    insert_batch,
    seed_users,
)
from tests.user_search_cases import expected_rows

USERNAME = re.compile(r"^[a-z0-9_.-]{3,32}$")


def without_ids(documents):
    return [{k: v for k, v in doc.items() if k != "_id"} for doc in documents]


def test_same_seed_gives_the_same_users():
    first = list(generate_users(50, seed=7, password_hash="h"))
    again = list(generate_users(50, seed=7, password_hash="h"))
    assert without_ids(first) == without_ids(again)


def test_another_seed_gives_other_names():
    names = {doc["name"] for doc in generate_users(50, seed=1, password_hash="h")}
    other = {doc["name"] for doc in generate_users(50, seed=2, password_hash="h")}
    assert names != other


def test_start_skips_users_without_changing_the_rest():
    whole = list(generate_users(30, seed=3, password_hash="h"))
    tail = list(generate_users(10, seed=3, password_hash="h", start=20))
    assert without_ids(tail) == without_ids(whole[20:])


def test_seeded_users_have_valid_unique_usernames_and_emails():
    users = list(generate_users(2000, seed=0, password_hash="h"))
    assert all(USERNAME.match(doc["username"]) for doc in users)
    assert len({doc["username_lc"] for doc in users}) == len(users)
    assert len({doc["email_lc"] for doc in users}) == len(users)


def test_seeded_names_vary_enough_for_prefix_search():
    users = list(generate_users(2000, seed=0, password_hash="h"))
    first_letters = {doc["name_words"][0][0] for doc in users}
    assert len({doc["name"] for doc in users}) > 1900 and len(first_letters) > 15


def test_seeded_documents_are_in_creation_order():
    users = list(generate_users(20, seed=0, password_hash="h"))
    assert [doc["created"] for doc in users] == sorted(doc["created"] for doc in users)


def test_seeded_users_are_searchable_and_a_rerun_leaves_no_stray_rows(app):
    with app.app_context():
        seed_users(get_db().users, 20, seed=5, batch_size=8)
        seed_users(get_db().users, 30, seed=5, batch_size=8)
        users = list(get_db().users.find())
        rows = {row["_id"] for row in get_db().user_prefixes.find({}, {"_id": 1})}
    assert len(users) == 30 and rows == expected_rows(users)


def test_seed_inserts_users_sharing_the_published_password(app):
    with app.app_context():
        report = seed_users(get_db().users, 25, seed=5, batch_size=10)
        users = list(get_db().users.find())
        assert verify_password(users[0]["password_hash"], SEED_PASSWORD)
    assert (report.inserted, report.duplicates) == (25, 0)
    assert len(users) == 25 and len({doc["password_hash"] for doc in users}) == 1


def test_rerun_with_the_same_seed_skips_and_counts_duplicates(app):
    with app.app_context():
        seed_users(get_db().users, 20, seed=5, batch_size=8)
        report = seed_users(get_db().users, 30, seed=5, batch_size=8)
        assert get_db().users.count_documents({}) == 30
    assert (report.inserted, report.duplicates) == (10, 20)


@pytest.mark.parametrize("batch_size", [0, 25_001])
def test_batch_size_is_bounded(app, batch_size):
    with app.app_context(), pytest.raises(ValueError):
        seed_users(get_db().users, 1, batch_size=batch_size)


class FailingUsers:
    """A users collection refusing its first documents with these error codes."""

    def __init__(self, database, codes):
        self.database, self.codes = database, codes

    def insert_many(self, documents, ordered):
        errors = [{"index": i, "code": code, "errmsg": "x"} for i, code in enumerate(self.codes)]
        raise BulkWriteError({"writeErrors": errors, "nInserted": len(documents) - len(errors)})


def test_insert_batch_counts_duplicate_key_errors_and_removes_their_rows(app):
    documents = list(generate_users(5, seed=1, password_hash="h"))
    with app.app_context():
        assert insert_batch(FailingUsers(get_db(), [11000, 11000]), documents) == (3, 2)
        rows = {row["_id"] for row in get_db().user_prefixes.find({}, {"_id": 1})}
    assert rows == expected_rows(documents[2:])


def test_insert_batch_reraises_any_other_write_error(app):
    documents = list(generate_users(5, seed=1, password_hash="h"))
    with app.app_context(), pytest.raises(BulkWriteError):
        insert_batch(FailingUsers(get_db(), [11000, 121]), documents)


def test_seed_command_reports_counts_and_the_shared_password(app):
    result = app.test_cli_runner().invoke(args=["users", "seed", "--count", "30", "--batch", "7"])
    assert result.exit_code == 0, result.output
    assert "seeded 30 users, skipped 0" in result.output
    assert SEED_PASSWORD in result.output
    again = app.test_cli_runner().invoke(args=["users", "seed", "--count", "30"])
    assert again.exit_code == 0 and "seeded 0 users, skipped 30" in again.output


def test_seed_command_refuses_batches_over_the_limit(app):
    result = app.test_cli_runner().invoke(
        args=["users", "seed", "--count", "3", "--batch", "30000"]
    )
    assert result.exit_code != 0 and "--batch" in result.output
