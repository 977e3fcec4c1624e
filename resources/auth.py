"""`/auth`: register, login, refresh (with rotation and reuse detection) and logout."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app, request
from flask_jwt_extended import get_jwt, jwt_required
from flask_restful import Resource

import blacklist
from errors import ApiError
from extensions import limiter
from resources.idempotency import idempotent
from schemas.users import LoginSchema, RegisterSchema, render_user
from services.passwords import hash_password, needs_rehash, verify_password
from services.tokens import issue_token_pair
from stores.users import build_user_document, find_user_by_login, insert_user, update_user
from web.conditional import empty_response
from web.parsing import use_body


def _login_limit() -> str:
    return f"{current_app.config['LOGIN_RATE_LIMIT']} per minute"


def _login_ip() -> str:
    return f"login-ip:{request.remote_addr or 'unknown'}"


def _login_username() -> str:
    """The attempted username, normalised, so guessing one account is slowed from any IP."""
    body = request.get_json(silent=True)
    username = body.get("username") if isinstance(body, dict) else None
    return f"login-user:{str(username)[:254].lower()}" if isinstance(username, str) else _login_ip()


class Register(Resource):
    @idempotent
    @use_body(RegisterSchema())
    def post(self, data):
        """Create an account.
        ---
        summary: Register a new user
        tags: [auth]
        responses:
          201:
            description: The new user
            headers: {Location: {schema: {type: string}}}
            content: {application/json: {schema: UserSchema}}
          409: {$ref: '#/components/responses/Conflict'}
          422: {$ref: '#/components/responses/ValidationError'}
        """
        user = insert_user(
            build_user_document(
                data["username"], data["email"], hash_password(data["password"]), data["name"]
            )
        )
        body = render_user(user, {"sub": str(user["_id"])})
        return body, 201, {"Location": f"/api/v1/users/{body['id']}"}


class Login(Resource):
    # Stricter than the API-wide limit: per client IP and per attempted username.
    decorators = [
        limiter.limit(_login_limit, key_func=_login_ip, override_defaults=False),
        limiter.limit(_login_limit, key_func=_login_username, override_defaults=False),
    ]

    @use_body(LoginSchema())
    def post(self, data):
        """Exchange a username (or email) and password for a token pair.
        ---
        summary: Log in
        tags: [auth]
        responses:
          200: {description: Tokens, content: {application/json: {schema: TokenPairSchema}}}
          401: {$ref: '#/components/responses/Unauthorized'}
          422: {$ref: '#/components/responses/ValidationError'}
          429: {$ref: '#/components/responses/RateLimited'}
        """
        user = find_user_by_login(data["username"])
        # Verify against a dummy hash when there is no such user: both failures cost the same.
        if not verify_password(user["password_hash"] if user else None, data["password"]):
            raise ApiError(401, "invalid_credentials", "Wrong username or password.")
        if needs_rehash(user["password_hash"]):
            update_user(user, {"password_hash": hash_password(data["password"])})
        return issue_token_pair(user), 200


class Refresh(Resource):
    method_decorators = [jwt_required(refresh=True)]

    def post(self):
        """Trade a refresh token for a new pair; the one sent is spent.
        ---
        summary: Refresh tokens (rotation)
        tags: [auth]
        security: [{bearerAuth: []}]
        description: >
          Send the refresh token as a Bearer token. A refresh token works once: presenting a
          spent one again revokes the whole login (reuse detection).
        responses:
          200: {description: A new token pair, content: {application/json: {schema: TokenPairSchema}}}
          401: {$ref: '#/components/responses/Unauthorized'}
        """
        claims = get_jwt()
        if not blacklist.spend_refresh_token(claims["jti"], claims["exp"]):
            # Another request spent this token a moment ago: treat it as reuse.
            blacklist.revoke_session(claims["sid"], claims["exp"])
            raise ApiError(401, "token_revoked", "The token has been revoked.")
        user = {"_id": claims["sub"], "role": claims["role"], "username": claims["username"]}
        return issue_token_pair(user, session_id=claims["sid"]), 200


class Logout(Resource):
    method_decorators = [jwt_required()]

    def post(self):
        """Revoke the access token sent and every token of the same login.
        ---
        summary: Log out
        tags: [auth]
        security: [{bearerAuth: []}]
        responses:
          204: {description: Logged out}
          401: {$ref: '#/components/responses/Unauthorized'}
        """
        claims = get_jwt()
        lifetime = current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
        blacklist.revoke_session(claims["sid"], (datetime.now(UTC) + lifetime).timestamp())
        return empty_response(204)


def register(api) -> None:
    api.add_resource(Register, "/auth/register")
    api.add_resource(Login, "/auth/login")
    api.add_resource(Refresh, "/auth/refresh")
    api.add_resource(Logout, "/auth/logout")
