"""`/users`: the user directory (list and search), the caller's profile, any user's profile,
account changes and deletion."""

from __future__ import annotations

from bson import ObjectId
from flask_restful import Resource

from errors import ApiError
from resources.caller import access_token_required
from schemas.pagination import sortable
from schemas.user_search import UserSearchArgs
from schemas.users import UserUpdateSchema, render_user
from services.accounts import change_account, delete_account
from services.passwords import hash_password, verify_password
from services.recovery import mail_email_verification
from services.tokens import current_claims, current_user_id, is_admin
from stores.exceptions import NotFound
from stores.user_search import DEFAULT_SORT, list_users, sorts_for
from stores.users import find_user_by_id
from web.after_response import after_response
from web.conditional import empty_response
from web.pagination import page_request, page_response
from web.parsing import use_body, use_query

LIST_ARGS = sortable(UserSearchArgs, sorts_for(None), DEFAULT_SORT)


def _require_self_or_admin(user_id: ObjectId) -> None:
    if user_id != current_user_id() and not is_admin():
        raise ApiError(403, "forbidden", "You may only change your own account.")


def _existing_user(user_id: ObjectId) -> dict:
    user = find_user_by_id(user_id)
    if user is None:
        raise NotFound("user")
    return user


def _changes_for(user: dict, data: dict) -> tuple[dict, str | None]:
    """The stored changes a PATCH asks for, and why the user's logins end (None: they don't)."""
    changes = {key: data[key] for key in ("name", "email") if key in data}
    acting_on_self = user["_id"] == current_user_id()
    if "role" in data and data["role"] != user["role"]:
        if not is_admin():
            raise ApiError(403, "forbidden", "Only admins may change roles.")
        changes["role"] = data["role"]
    if "password" in data:
        if acting_on_self and not verify_password(
            user["password_hash"], data.get("current_password", "")
        ):
            raise ApiError(
                422,
                "validation_error",
                "Changing your password needs your current password.",
                {"current_password": ["missing or wrong"]},
            )
        changes["password_hash"] = hash_password(data["password"])
    # Tokens carry the role, and a new password must end other logins: both revoke old tokens.
    if "role" in changes:
        return changes, "role_changed"
    return changes, "password_changed" if "password_hash" in changes else None


class UserList(Resource):
    method_decorators = [access_token_required]

    @use_query(LIST_ARGS)
    def get(self, args):
        """List users, optionally those whose username or a name word starts with `q`.
        ---
        summary: List and search users
        responses:
          200:
            description: A page of users (email only for admins and the user themself)
            content: {application/json: {schema: UserPage}}
        """
        page = page_request(args, sorts_for(args["q"]))
        claims = current_claims()
        users = list_users(args["q"], page.query)
        body, headers = page_response(page, users, lambda user: render_user(user, claims))
        return body, 200, headers


class Me(Resource):
    method_decorators = [access_token_required]

    def get(self):
        """The caller's own profile.
        ---
        summary: Read my profile
        responses:
          200: {description: The caller, content: {application/json: {schema: UserSchema}}}
        """
        return render_user(_existing_user(current_user_id()), current_claims()), 200


class User(Resource):
    method_decorators = [access_token_required]

    def get(self, user_id: ObjectId):
        """Any user's profile (email only for admins and the user themself).
        ---
        summary: Read a user
        responses:
          200: {description: The user, content: {application/json: {schema: UserSchema}}}
        """
        return render_user(_existing_user(user_id), current_claims()), 200

    @use_body(UserUpdateSchema())
    def patch(self, data, user_id: ObjectId):
        """Change name, email or password (self or admin); role (admins only).

        A new email address is unverified until the link mailed to it is followed.
        ---
        summary: Update a user
        responses:
          200: {description: The updated user, content: {application/json: {schema: UserSchema}}}
          403: {$ref: '#/components/responses/Forbidden'}
          409: {$ref: '#/components/responses/Conflict'}
          412: {$ref: '#/components/responses/PreconditionFailed'}
        """
        _require_self_or_admin(user_id)
        user = _existing_user(user_id)
        changes, ends_logins = _changes_for(user, data)
        if not changes:
            return render_user(user, current_claims()), 200
        # Spare the caller's own login when they change their own password (not their role:
        # their tokens claim the old one).
        own_password_only = ends_logins == "password_changed" and user_id == current_user_id()
        kept_login = current_claims() if own_password_only else None
        updated = change_account(user, changes, ends_logins, kept_login)
        if updated["email_lc"] != user["email_lc"]:
            after_response(mail_email_verification, user_id)
        return render_user(updated, current_claims()), 200

    def delete(self, user_id: ObjectId):
        """Delete an account with its todos and logins; all its tokens stop working.
        ---
        summary: Delete a user
        responses:
          204: {description: Deleted}
          403: {$ref: '#/components/responses/Forbidden'}
        """
        _require_self_or_admin(user_id)
        # An account whose deletion was interrupted is found here too, so a retry finishes it.
        delete_account(user_id)
        return empty_response(204)


def register(api) -> None:
    api.add_resource(UserList, "/users")
    api.add_resource(Me, "/users/me")
    api.add_resource(User, "/users/<objectid:user_id>")
