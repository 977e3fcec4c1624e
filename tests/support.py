"""What every test layer says the same way: the API's paths, the contract's todo fields, the
Authorization header, and the token in a mailed recovery link."""

from __future__ import annotations

import re

API = "/api/v1"
REGISTER = f"{API}/auth/register"
LOGIN = f"{API}/auth/login"
REFRESH = f"{API}/auth/refresh"
LOGOUT = f"{API}/auth/logout"
ME = f"{API}/users/me"
USERS = f"{API}/users"
TODOS = f"{API}/todos"
TEMPLATES = f"{API}/templates"
FORGOT = f"{API}/auth/password/forgot"
RESET = f"{API}/auth/password/reset"
VERIFY = f"{API}/auth/verify"
RESEND = f"{API}/auth/verify/resend"
# A todo object's fields, in the contract's order.
TODO_FIELDS = ["id", "title", "description", "done", "due", "tags", "owner", "created", "updated"]
# A mailed link: PUBLIC_URL, then the web client's view and the token in the fragment.
LINK = re.compile(r"(?P<origin>https?://[^/\s#]+)/#(?P<view>[\w-]+)\?token=(?P<token>[\w-]+)")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def link_in(text: str, view: str) -> re.Match:
    """The recovery link to the web client's `view` (`reset-password`, `verify-email`) in a
    mail's text; `.group("token")`, `.group("origin")`."""
    for match in LINK.finditer(text):
        if match.group("view") == view:
            return match
    raise AssertionError(f"no {view} link in: {text}")
