"""The `todos` collection (placeholder until the todos store lands: only account deletion's need)."""

from __future__ import annotations

from bson import ObjectId

from db import get_db


def delete_todos_of_owner(owner_id: ObjectId) -> int:
    """Delete every todo of one user (account deletion); returns how many went."""
    return get_db().todos.delete_many({"owner_id": owner_id}).deleted_count
