"""Account recovery by mail: password reset links and email verification links.

A link carries a token of 32 random bytes in its fragment (`PUBLIC_URL/#reset-password?token=`):
browsers send neither to a server nor in a `Referer`, so it stays out of every log, and the web
client reads it from there. Only the token's SHA-256 is stored (stores/recovery_tokens.py), and
a link works once, until its expiry (PASSWORD_RESET_EXPIRES, EMAIL_VERIFICATION_EXPIRES).

The `mail_*` functions run after the response is sent (web/after_response.py): a forgot-password
request answers the same, in the same time, whether or not an account uses the address, and a
slow or failing mail server delays and tells no client anything.

A password reset proves the address as well as a verification link does (the reset link went to
it, and an email change voids outstanding links), so it also marks the address verified: an
account refused at login for an unverified address (REQUIRE_VERIFIED_EMAIL) whose verification
link expired gets back in through "forgot password".
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import NamedTuple

from bson import ObjectId
from flask import current_app

from core import clock
from services.mail import send_mail
from services.passwords import hash_password
from services.sessions import end_logins_of
from stores.recovery_tokens import RESET, VERIFY, redeem_token, save_token
from stores.users import find_user_by_id, find_user_by_login, is_email_verified

TOKEN_BYTES = 32


class Link(NamedTuple):
    """What a kind of mailed link is: its lifetime's setting, the web client's view it opens
    (static/app.js), and its mail."""

    lifetime_setting: str
    view: str
    subject: str
    template: str


LINKS = {
    RESET: Link(
        "PASSWORD_RESET_EXPIRES", "reset-password", "Reset your password", "password_reset"
    ),
    VERIFY: Link(
        "EMAIL_VERIFICATION_EXPIRES", "verify-email", "Confirm your email address", "verify_email"
    ),
}


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_to(view: str, token: str) -> str:
    """A link to the web client's `view` at PUBLIC_URL (never the request's Host, which a client
    chooses), the token in the fragment."""
    return f"{current_app.config['PUBLIC_URL']}/#{view}?token={token}"


def in_words(lifetime: timedelta) -> str:
    """`30 minutes`, `2 hours`, `7 days`: how long a link works, as the mail says it."""
    seconds = int(lifetime.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count > 1 else ''}"
    return f"{seconds} seconds"


def mail_link(kind: str, user: dict) -> None:
    """Give `user` a new token of `kind` (replacing the last one) and mail them its link; nothing
    when the account is gone or its address changed meanwhile."""
    link = LINKS[kind]
    token = secrets.token_urlsafe(TOKEN_BYTES)
    lifetime = current_app.config[link.lifetime_setting]
    if save_token(kind, user, token_digest(token), clock.utcnow() + lifetime):
        send_mail(
            user["email"],
            link.subject,
            link.template,
            username=user["username"],
            email=user["email"],
            link=link_to(link.view, token),
            valid_for=in_words(lifetime),
        )


def mail_password_reset(email: str) -> None:
    """Mail a reset link to the account that uses `email`, if one does."""
    user = find_user_by_login(email)
    if user is not None:
        mail_link(RESET, user)


def reset_password(token: str, password: str) -> bool:
    """Set a new password with a reset token, ending every login of the user. False, changing
    nothing, when the token is unknown, used or expired."""
    user = redeem_token(
        RESET,
        token_digest(token),
        clock.utcnow(),
        {"password_hash": hash_password(password), "email_verified": True},
        end_sessions=True,
    )
    if user is None:
        return False
    end_logins_of(user, "password_reset")
    return True


def mail_email_verification(user_id: ObjectId) -> None:
    """Mail a verification link to the user's address, unless it is verified already."""
    user = find_user_by_id(user_id)
    if user is not None and not is_email_verified(user):
        mail_link(VERIFY, user)


def verify_email(token: str) -> bool:
    """Mark the address a verification token was mailed to as verified; False when the token is
    unknown, used or expired (or the address changed since)."""
    return (
        redeem_token(VERIFY, token_digest(token), clock.utcnow(), {"email_verified": True})
        is not None
    )
