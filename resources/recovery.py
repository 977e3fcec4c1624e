"""`/auth/password` and `/auth/verify`: account recovery by mailed links (services/recovery.py).

What an attacker learns from these, by design: nothing about which addresses have accounts.
Forgot-password answers 202 to any well-formed address, and everything that depends on the
account (its look-up, the token, the mail) runs after the response is sent. Its limits are two,
per hour: PASSWORD_RESET_ADDRESS_LIMIT requests per client address (429, like every limit), and
PASSWORD_RESET_ACCOUNT_LIMIT mails per submitted address, counted whether or not an account uses
it; once that is spent the answer is still the same 202, and no mail goes out. A reset or
verification token that is unknown, used or expired gets one and the same 400.
"""

from __future__ import annotations

import hashlib

from flask import current_app
from flask_restful import Resource
from limits import parse

from errors import ApiError
from extensions import limiter
from resources.auth_throttle import client_address
from resources.caller import access_token_required, rate_limit_identity
from schemas.users import ForgotPasswordSchema, ResetPasswordSchema, VerifyEmailSchema
from services.recovery import (
    mail_email_verification,
    mail_password_reset,
    reset_password,
    verify_email,
)
from services.tokens import current_user_id
from web.after_response import after_response
from web.conditional import empty_response
from web.parsing import use_body

FORGOT_ACCEPTED = "If an account uses this address, a link to reset its password is on its way."
RESEND_ACCEPTED = "If your address is not verified yet, a new link is on its way."


def per_hour(setting: str):
    """The limit named by an integer setting, read per request (each app has its own config)."""
    return lambda: f"{current_app.config[setting]} per hour"


def within_mail_budget(address: str) -> bool:
    """Spend one of the reset mails `address` may get per hour (PASSWORD_RESET_ACCOUNT_LIMIT, in
    the rate limiter's storage, so across workers); False once they are spent. Keyed on a hash
    of the address as submitted, lowercased: no typed address is written to Redis, and an
    address with no account spends its budget exactly like one with an account."""
    config = current_app.config
    if not config["RATELIMIT_ENABLED"]:
        return True
    budget = parse(per_hour("PASSWORD_RESET_ACCOUNT_LIMIT")())
    digest = hashlib.sha256(address.lower().encode()).hexdigest()
    return limiter.limiter.hit(
        budget, config["RATELIMIT_KEY_PREFIX"], "password-reset-account", digest
    )


def hourly_limit(setting: str, key_func, scope: str):
    return limiter.limit(
        per_hour(setting), key_func=key_func, scope=scope, methods=["POST"], override_defaults=False
    )


class ForgotPassword(Resource):
    decorators = [
        hourly_limit("PASSWORD_RESET_ADDRESS_LIMIT", client_address, "password-reset-address")
    ]

    @use_body(ForgotPasswordSchema())
    def post(self, data):
        """Mail a password reset link to the account that uses this address, if one does.

        The answer is the same 202, in the same time, whatever the address: the look-up and the
        mail happen after it is sent. The link opens the web client at PUBLIC_URL with a
        single-use token in its fragment, valid PASSWORD_RESET_EXPIRES seconds; a new request
        replaces it. An address gets at most PASSWORD_RESET_ACCOUNT_LIMIT mails an hour (past
        that, still 202, and no mail).
        ---
        responses:
          202:
            description: Accepted, whether or not an account uses the address
            content: {application/json: {schema: AcceptedSchema}}
          429: {$ref: '#/components/responses/RateLimited'}
        """
        if within_mail_budget(data["email"]):
            after_response(mail_password_reset, data["email"])
        return {"message": FORGOT_ACCEPTED}, 202


class ResetPassword(Resource):
    @use_body(ResetPasswordSchema())
    def post(self, data):
        """Set a new password with a mailed reset link's token, ending every login.

        The password follows registration's rules. A token works once: unknown, used and expired
        tokens all answer 400 `invalid_reset_token`. The reset also marks the address verified.
        ---
        responses:
          204: {description: Password changed; every earlier token of the account is revoked}
          400: {$ref: '#/components/responses/BadRequest'}
        """
        if not reset_password(data["token"], data["password"]):
            raise ApiError(
                400,
                "invalid_reset_token",
                "This password reset link is invalid, used or expired: ask for a new one.",
            )
        return empty_response(204)


class VerifyEmail(Resource):
    @use_body(VerifyEmailSchema())
    def post(self, data):
        """Mark an address verified with the token of a mailed verification link.

        Unknown, used and expired tokens (and those mailed to an address the account no longer
        has) answer 400 `invalid_verification_token`.
        ---
        responses:
          204: {description: The address is verified}
          400: {$ref: '#/components/responses/BadRequest'}
        """
        if not verify_email(data["token"]):
            raise ApiError(
                400,
                "invalid_verification_token",
                "This verification link is invalid, used or expired: ask for a new one.",
            )
        return empty_response(204)


class ResendVerification(Resource):
    method_decorators = [access_token_required]
    decorators = [
        hourly_limit("PASSWORD_RESET_ACCOUNT_LIMIT", rate_limit_identity, "verify-resend")
    ]

    def post(self):
        """Mail the caller a new verification link (nothing when the address is verified).
        ---
        responses:
          202:
            description: Accepted
            content: {application/json: {schema: AcceptedSchema}}
          429: {$ref: '#/components/responses/RateLimited'}
        """
        after_response(mail_email_verification, current_user_id())
        return {"message": RESEND_ACCEPTED}, 202


def register(api) -> None:
    api.add_resource(ForgotPassword, "/auth/password/forgot")
    api.add_resource(ResetPassword, "/auth/password/reset")
    api.add_resource(VerifyEmail, "/auth/verify")
    api.add_resource(ResendVerification, "/auth/verify/resend")
