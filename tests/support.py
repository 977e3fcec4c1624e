"""What every test layer says the same way: the API's paths and the Authorization header."""

from __future__ import annotations

API = "/api/v1"
REGISTER = f"{API}/auth/register"
LOGIN = f"{API}/auth/login"
REFRESH = f"{API}/auth/refresh"
LOGOUT = f"{API}/auth/logout"
ME = f"{API}/users/me"
USERS = f"{API}/users"
TODOS = f"{API}/todos"
TEMPLATES = f"{API}/templates"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
