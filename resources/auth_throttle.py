"""Throttling of the two endpoints anyone may call: login (failed attempts) and registration.

The limits' keys are read off the request before the views run (as the API-wide limit's identity
is), which is why this lives with the resources.

Both are Flask-Limiter limits on the app's limiter, so they count in its storage (Redis: shared by
every worker and dyno), answer 429 in the error shape with the same headers as every other limit,
and are off with RATELIMIT_ENABLED=false.

Login counts failures only (`deduct_when`): each budget is tested before the view runs and charged
after it answered 401, in three budgets, all per minute:
- per account and client address (LOGIN_RATE_LIMIT): one address guessing one password. Once it is
  spent, that address gets 429 for that account, right password included, until the window ends,
  while the owner elsewhere still logs in;
- per account over all addresses (LOGIN_ACCOUNT_RATE_LIMIT, much higher): distributed guessing.
  Once it is spent every attempt for the account gets 429, the price of bounding it;
- per address over all accounts (LOGIN_ADDRESS_RATE_LIMIT): one address spraying passwords.

The account is resolved first, so a username and an email of one user share one budget. A login
that names no account is counted under a hash of its lowercased form, exactly like an account, so
a 429 tells nothing about which accounts exist, and no typed login (which may be a mistyped
password) is written to Redis.

Registration counts every attempt per address (REGISTER_RATE_LIMIT). Test and charge are separate
steps, so concurrent attempts may overshoot a login budget by the number of requests in flight
(a few per dyno, whose workers serve one request each).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from flask import Response, current_app, g, request
from flask_limiter import RouteLimit

from errors import ApiError
from extensions import limiter
from schemas.base import is_valid_text
from schemas.users import LoginSchema
from stores.users import find_user_by_login
from web.parsing import parser

# Usernames have at most 32 characters and emails 254: a longer login names no account.
LONGEST_LOGIN = 254
# The view answers 422 to a body without a login string, and nothing is charged for it.
NO_LOGIN = "none"


def client_address() -> str:
    """The client's address (behind proxies, as TRUSTED_PROXY_HOPS resolves it; see app.py)."""
    return request.remote_addr or "unknown"


def attempted_account() -> str:
    """Whose budget a login attempt spends: `user:<id>` of the account its login names, else
    `login:<sha256 of the lowercased login>`. Looked up once per request."""
    if "attempted_account" not in g:
        g.attempted_account = account_key(attempted_login())
    return g.attempted_account


def attempted_login() -> str | None:
    """The body's `username` if it is a string. This runs before the view validates the body, so
    it must not fail on what the view will refuse: a body the parser refuses (web/parsing.py:
    not JSON, unparsable, nested too deep) names no account."""
    try:
        body = parser.load_json(request, LoginSchema())
    except ApiError:
        return None
    login = body.get("username") if isinstance(body, dict) else None
    return login if isinstance(login, str) else None


def account_key(login: str | None) -> str:
    if login is None or not is_valid_text(login):
        return NO_LOGIN  # the view answers 400 or 422, which is never charged
    user = find_user_by_login(login) if len(login) <= LONGEST_LOGIN else None
    if user is not None:
        return f"user:{user['_id']}"
    return f"login:{hashlib.sha256(login.lower().encode()).hexdigest()}"


def account_and_address() -> str:
    return f"{attempted_account()}|{client_address()}"


def login_failed(response: Response) -> bool:
    return response.status_code == 401


def per_minute(setting: str) -> Callable[[], str]:
    """The limit named by an integer setting, read per request (each app has its own config)."""
    return lambda: f"{current_app.config[setting]} per minute"


def failed_logins_limit(setting: str, key_func: Callable[[], str], scope: str) -> RouteLimit:
    return limiter.limit(
        per_minute(setting),
        key_func=key_func,
        scope=scope,
        methods=["POST"],
        deduct_when=login_failed,
        override_defaults=False,
    )


# Decorators for the login resource: the three budgets of failed attempts.
LOGIN_LIMITS = [
    failed_logins_limit("LOGIN_RATE_LIMIT", account_and_address, "login-account-address"),
    failed_logins_limit("LOGIN_ACCOUNT_RATE_LIMIT", attempted_account, "login-account"),
    failed_logins_limit("LOGIN_ADDRESS_RATE_LIMIT", client_address, "login-address"),
]
# Decorators for the registration resource: every attempt, per address.
REGISTER_LIMITS = [
    limiter.limit(
        per_minute("REGISTER_RATE_LIMIT"),
        key_func=client_address,
        scope="register-address",
        methods=["POST"],
        override_defaults=False,
    )
]
