"""`/users`: the user directory (list and search), the caller's profile, any user's profile,
account changes and deletion."""

from __future__ import annotations

from bson import ObjectId
from flask import current_app
from flask_jwt_extended import jwt_required
from flask_restful import Resource

import blacklist
from errors import ApiError
from schemas.pagination import sortable
from schemas.user_search import UserSearchArgs
from schemas.users import UserUpdateSchema, render_user
from services.passwords import hash_password, verify_password
from services.tokens import current_claims, current_user_id, is_admin
from stores.exceptions import NotFound
from stores.todos import delete_todos_of_owner
from stores.user_search import DEFAULT_SORT, list_users, sorts_for
from stores.users import delete_user, find_user_by_id, update_user
from web.conditional import empty_response
from web.pagination import page_request, page_response
from web.parsing import use_body, use_query

LIST_ARGS = sortable(UserSearchArgs, sorts_for(None), DEFAULT_SORT)


def _refresh_lifetime_seconds() -> int:
    return int(current_app.config["JWT_REFRESH_TOKEN_EXPIRES"].total_seconds())


def _require_self_or_admin(user_id: ObjectId) -> None:
    if user_id != current_user_id() and not is_admin():
        raise ApiError(403, "forbidden", "You may only change your own account.")


def _existing_user(user_id: ObjectId) -> dict:
    user = find_user_by_id(user_id)
    if user is None:
        raise NotFound("user")
    return user


def _changes_for(user: dict, data: dict) -> tuple[dict, bool]:
    """The stored changes a PATCH asks for, and whether the user's tokens must be revoked."""
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
    return changes, "role" in changes or "password_hash" in changes


class UserList(Resource):
    method_decorators = [jwt_required()]

    @use_query(LIST_ARGS)
    def get(self, args):
        """List users, optionally those whose username or a name word starts with `q`.
        ---
        summary: List and search users
        tags: [users]
        security: [{bearerAuth: []}]
        responses:
          200:
            description: A page of users (email only for admins and the user themself)
            content: {application/json: {schema: UserPage}}
          400: {$ref: '#/components/responses/BadRequest'}
          401: {$ref: '#/components/responses/Unauthorized'}
        """
        page = page_request(args, sorts_for(args["q"]))
        claims = current_claims()
        users = list_users(args["q"], page.query)
        body, headers = page_response(page, users, lambda user: render_user(user, claims))
        return body, 200, headers


class Me(Resource):
    method_decorators = [jwt_required()]

    def get(self):
        """The caller's own profile.
        ---
        summary: Read my profile
        tags: [users]
        security: [{bearerAuth: []}]
        responses:
          200: {description: The caller, content: {application/json: {schema: UserSchema}}}
          401: {$ref: '#/components/responses/Unauthorized'}
        """
        return render_user(_existing_user(current_user_id()), current_claims()), 200


class User(Resource):
    method_decorators = [jwt_required()]

    def get(self, user_id: ObjectId):
        """Any user's profile (email only for admins and the user themself).
        ---
        summary: Read a user
        tags: [users]
        security: [{bearerAuth: []}]
        parameters: [{in: path, name: user_id, required: true, schema: {type: string}}]
        responses:
          200: {description: The user, content: {application/json: {schema: UserSchema}}}
          401: {$ref: '#/components/responses/Unauthorized'}
          404: {$ref: '#/components/responses/NotFound'}
        """
        return render_user(_existing_user(user_id), current_claims()), 200

    @use_body(UserUpdateSchema())
    def patch(self, data, user_id: ObjectId):
        """Change name, email or password (self or admin); role (admins only).
        ---
        summary: Update a user
        tags: [users]
        security: [{bearerAuth: []}]
        parameters: [{in: path, name: user_id, required: true, schema: {type: string}}]
        responses:
          200: {description: The updated user, content: {application/json: {schema: UserSchema}}}
          401: {$ref: '#/components/responses/Unauthorized'}
          403: {$ref: '#/components/responses/Forbidden'}
          404: {$ref: '#/components/responses/NotFound'}
          409: {$ref: '#/components/responses/Conflict'}
          422: {$ref: '#/components/responses/ValidationError'}
        """
        _require_self_or_admin(user_id)
        user = _existing_user(user_id)
        changes, revoke_tokens = _changes_for(user, data)
        if revoke_tokens:
            # Spare the caller's own login when they change their own password (not their role:
            # their tokens claim the old one).
            own_password_only = user_id == current_user_id() and "role" not in changes
            keep = current_claims()["sid"] if own_password_only else None
            blacklist.revoke_user_tokens(str(user_id), _refresh_lifetime_seconds(), keep)
        updated = update_user(user, changes) if changes else user
        if updated is None:
            raise NotFound("user")
        return render_user(updated, current_claims()), 200

    def delete(self, user_id: ObjectId):
        """Delete an account with its todos; all its tokens stop working.
        ---
        summary: Delete a user
        tags: [users]
        security: [{bearerAuth: []}]
        parameters: [{in: path, name: user_id, required: true, schema: {type: string}}]
        responses:
          204: {description: Deleted}
          401: {$ref: '#/components/responses/Unauthorized'}
          403: {$ref: '#/components/responses/Forbidden'}
          404: {$ref: '#/components/responses/NotFound'}
        """
        _require_self_or_admin(user_id)
        _existing_user(user_id)
        # Tokens die first: if MongoDB fails after this, the account is locked, never half-open;
        # todos go before the user, so a retried DELETE finishes the job.
        blacklist.revoke_user_tokens(str(user_id), _refresh_lifetime_seconds())
        delete_todos_of_owner(user_id)
        delete_user(user_id)
        return empty_response(204)


def register(api) -> None:
    api.add_resource(UserList, "/users")
    api.add_resource(Me, "/users/me")
    api.add_resource(User, "/users/<objectid:user_id>")
