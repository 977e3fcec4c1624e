"""`/auth`: register, login, refresh (with rotation and reuse detection) and logout.

(The recovery endpoints, `/auth/password/...` and `/auth/verify...`, are resources/recovery.py.)"""

from __future__ import annotations

from flask import current_app
from flask_jwt_extended import get_jwt
from flask_restful import Resource

from errors import ApiError
from resources.auth_throttle import LOGIN_LIMITS, REGISTER_LIMITS
from resources.caller import access_token_required, refresh_token_required
from resources.idempotency import idempotent
from schemas.users import LoginSchema, RegisterSchema, render_user
from services.passwords import hash_password, needs_rehash, verify_password
from services.recovery import mail_email_verification
from services.sessions import open_session, refresh_session, revoke_login
from stores.users import (
    build_user_document,
    find_user_by_login,
    insert_user,
    is_email_verified,
    update_user,
)
from web.after_response import after_response
from web.conditional import empty_response
from web.parsing import use_body


class Register(Resource):
    decorators = REGISTER_LIMITS

    @idempotent
    @use_body(RegisterSchema())
    def post(self, data):
        """Create an account, and mail a link that verifies its address.
        ---
        summary: Register a new user
        responses:
          201:
            description: The new user
            headers: {Location: {schema: {type: string}}}
            content: {application/json: {schema: UserSchema}}
          409: {$ref: '#/components/responses/Conflict'}
          429: {$ref: '#/components/responses/RateLimited'}
        """
        user = insert_user(
            build_user_document(
                data["username"],
                data["email"],
                hash_password(data["password"]),
                data["name"],
                email_verified=False,
            )
        )
        after_response(mail_email_verification, user["_id"])
        body = render_user(user, {"sub": str(user["_id"])})
        return body, 201, {"Location": f"/api/v1/users/{body['id']}"}


class Login(Resource):
    # Budgets of failed attempts per account and address, per account, per address.
    decorators = LOGIN_LIMITS

    @use_body(LoginSchema())
    def post(self, data):
        """Exchange a username (or email) and password for a token pair.

        With REQUIRE_VERIFIED_EMAIL, an account whose address is not verified gets 403
        `email_not_verified` (only after the right password).
        ---
        summary: Log in
        responses:
          200: {description: Tokens, content: {application/json: {schema: TokenPairSchema}}}
          401: {$ref: '#/components/responses/Unauthorized'}
          403: {$ref: '#/components/responses/Forbidden'}
          429: {$ref: '#/components/responses/RateLimited'}
        """
        user = find_user_by_login(data["username"])
        # Verify against a dummy hash when there is no such user: both failures cost the same.
        if not verify_password(user["password_hash"] if user else None, data["password"]):
            raise ApiError(401, "invalid_credentials", "Wrong username or password.")
        # After the password check, so that it tells a guesser nothing.
        if current_app.config["REQUIRE_VERIFIED_EMAIL"] and not is_email_verified(user):
            raise ApiError(
                403,
                "email_not_verified",
                "Confirm your email address first: follow the link we mailed you, or reset "
                "your password, which also confirms it.",
            )
        if needs_rehash(user["password_hash"]):
            update_user(user, {"password_hash": hash_password(data["password"])})
        return open_session(user), 200


class Refresh(Resource):
    method_decorators = [refresh_token_required]

    def post(self):
        """Trade a refresh token for the login's next pair; the one sent is replaced.
        ---
        summary: Refresh tokens (rotation)
        description: >
          Send the refresh token as a Bearer token. A refresh token is exchanged once; sending
          it again within JWT_REFRESH_REUSE_GRACE seconds (a retry after a lost response)
          answers the same new pair, after that it revokes the whole login (reuse detection).
          A 409 `request_in_progress` means another request is still exchanging this token:
          retry after `Retry-After` seconds for the same pair. The pair carries the user's
          current role; no token outlives the login's absolute end (JWT_SESSION_MAX_AGE after
          the login).
        responses:
          200: {description: A new token pair, content: {application/json: {schema: TokenPairSchema}}}
          409: {$ref: '#/components/responses/Conflict'}
        """
        return refresh_session(get_jwt()), 200


class Logout(Resource):
    method_decorators = [access_token_required]

    def post(self):
        """Revoke the access token sent and every token of the same login.
        ---
        summary: Log out
        responses:
          204: {description: Logged out}
        """
        revoke_login(get_jwt()["sid"], "logout")
        return empty_response(204)


def register(api) -> None:
    api.add_resource(Register, "/auth/register")
    api.add_resource(Login, "/auth/login")
    api.add_resource(Refresh, "/auth/refresh")
    api.add_resource(Logout, "/auth/logout")
