"""Changing and deleting accounts, so that neither can half-succeed.

A change that ends the user's logins (a password or role change) moves the user's token
generation on in the same write as the change (stores/users.py): a write refused with a 409
(an email already taken) has ended nothing. Only after it succeeded are the old tokens refused in
Redis and the ended logins recorded (services/sessions.py).

Deleting an account first marks it as being deleted, in the same write that ends its tokens:
from then on it cannot log in or refresh and every token of it is refused. Then its data goes
(todos, then sessions), then the user document. Any step can fail; running the deletion again
(an admin's retried DELETE, or `flask db cleanup`) finishes the job. A todo created by a request
that passed its token check before the mark is removed by that request itself
(stores/todos.insert_todo looks at the owner after writing).

API keys belong to named machine clients (`apikeys create --owner <name>`), not to user
accounts, so a deletion has none to remove.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import Any

from bson import ObjectId

from services.sessions import end_logins_of
from stores.exceptions import NotFound, Stale
from stores.sessions import delete_sessions_of_user
from stores.todos import delete_todos_of_owner
from stores.users import (
    delete_user,
    find_user_by_id,
    ids_of_users_being_deleted,
    mark_user_deleting,
    update_user,
)


def change_account(
    user: Mapping[str, Any],
    changes: Mapping[str, Any],
    ends_logins: str | None = None,
    kept_login: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Apply validated `changes` to `user` (as read) and return the stored result.

    `ends_logins` (the reason, e.g. `password_changed`) ends every login of the user but
    `kept_login` (the claims of the caller's own token, when it changed its own password).
    Raises Conflict (a unique field taken), NotFound (the account is gone) or Stale (the
    password changed since `user` was read, so the check of the current one is void).
    """
    kept = {}
    if kept_login is not None:
        kept = {"kept_session": kept_login["sid"], "kept_from": kept_login.get("gen", 0)}
    updated = update_user(user, changes, end_sessions=ends_logins is not None, **kept)
    if updated is None:
        if find_user_by_id(user["_id"]) is None:
            raise NotFound("user")
        raise Stale("user")
    if ends_logins is not None:
        end_logins_of(updated, ends_logins)
    return updated


def delete_account(user_id: ObjectId) -> None:
    """Delete an account and everything it owns (or finish a deletion that was interrupted);
    NotFound when there is no such account left."""
    user = mark_user_deleting(user_id)
    if user is None:
        raise NotFound("user")
    end_logins_of(user, "account_deleted")
    delete_todos_of_owner(user_id)
    delete_sessions_of_user(user_id)
    delete_user(user_id)


def finish_interrupted_deletions() -> int:
    """Run every started account deletion to its end (idempotent); how many there were."""
    pending = ids_of_users_being_deleted()
    for user_id in pending:
        with suppress(NotFound):  # finished by its own request meanwhile
            delete_account(user_id)
    return len(pending)
