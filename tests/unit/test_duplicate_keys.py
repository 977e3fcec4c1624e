"""Recognising a unique-index violation as MongoDB, FerretDB and mongomock report it."""

from __future__ import annotations

import pytest
from pymongo.errors import DuplicateKeyError, OperationFailure

from stores.duplicate_keys import violated_unique_index

INDEXES = ("username_lc_unique", "email_lc_unique")


@pytest.mark.parametrize(
    ("error", "index"),
    [
        (
            DuplicateKeyError(
                "E11000 duplicate key error collection: app.users index: email_lc_unique dup "
                'key: { email_lc: "a@example.com" }',
                11000,
            ),
            "email_lc_unique",
        ),
        # FerretDB's inserts, and mongomock: a duplicate, index not named.
        (DuplicateKeyError("E11000 duplicate key error collection: app.users", 11000), ""),
        # FerretDB's updates and findAndModify.
        (
            OperationFailure(
                "[msg_findandmodify.go:196 ...] constraint failed: UNIQUE constraint failed: "
                "index 'users_f00c3c10_username_lc_unique' (2067)",
                1,
            ),
            "username_lc_unique",
        ),
        (OperationFailure("E11000 duplicate key error index: other_unique dup key", 11000), ""),
        (OperationFailure("not a duplicate at all", 1), None),
        (OperationFailure("Unauthorized", 13), None),
    ],
)
def test_violated_unique_index(error, index):
    assert violated_unique_index(error, INDEXES) == index
