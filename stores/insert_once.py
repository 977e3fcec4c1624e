"""Inserts a retried create can repeat safely: the one place a duplicate `_id` means success.

A create sent with an `Idempotency-Key` gets an `_id` derived from the caller, the key and the
body (stores/idempotency.py, `created_id`). If its first attempt was written but the answer never
came back (the connection to the database dropped after the write), the client's retry inserts
the same `_id` again: that duplicate finds the first document, which is returned, instead of a
second document being made.
"""

from __future__ import annotations

from typing import Any

from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError


def insert_once(collection: Collection, document: dict[str, Any]) -> dict[str, Any]:
    """Insert `document` and return it, or the document already stored under its `_id`.

    A duplicate on any other unique index propagates, for the caller to translate.
    """
    try:
        document["_id"] = collection.insert_one(document).inserted_id
    except DuplicateKeyError:
        existing = collection.find_one({"_id": document.get("_id")})
        if existing is None:
            raise
        return existing
    return document
