"""Demo data for a first look: `make run` on the in-memory stand-ins starts with something to see.

An empty database makes a poor first screen: the user directory, the web client's main table,
would show nothing. So the `flask run` server, when it runs on the embedded stand-ins under
APP_ENV=development, seeds DEMO_USERS fake users through the same code as `users seed`, plus a
demo account with a few todos and templates to sign in with. The data lives in memory and goes
with the process; nothing is ever seeded on a real MongoDB, under testing, or by CLI commands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from core.clock import utcnow
from services.passwords import hash_password
from services.seeding import seed_users
from stores.templates import build_template_document, insert_template
from stores.todos import build_todo_document, insert_todo
from stores.users import build_user_document, insert_user, users

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"  # noqa: S105 - printed at start; only ever in an in-memory database
DEMO_EMAIL = "demo@example.com"
DEMO_NAME = "Demo User"
DEMO_SEED = 1
# (title, tags, due in days or None, done)
DEMO_TODOS = (
    ("Open the user directory and search for a name", ["tour"], None, False),
    ("Tick this todo done", ["tour"], 1, False),
    ("Rename this todo", ["tour"], 7, False),
    ("Sign in to the demo", ["tour"], None, True),
)
DEMO_TEMPLATES = (
    ("Welcome email", "Greets a new user", "Hello {{name}}, welcome aboard!"),
    ("Password changed", "Security notice", "Hi {{name}}, your password was just changed."),
    ("Weekly digest", "Summary of the week", "{{count}} todos done this week. Keep going!"),
)


@dataclass(frozen=True)
class DemoReport:
    users: int
    todos: int
    templates: int


def demo_data_wanted(config: Mapping[str, Any]) -> bool:
    """Whether an app with `config`, being served by `flask run`, gets the demo data: only on the
    embedded default (no MONGO_URI, no REDIS_URL) under development, and unless DEMO_USERS=0."""
    return (
        config["APP_ENV"] == "development"
        and not config.get("MONGO_URI")
        and not config.get("REDIS_URL")
        and config["DEMO_USERS"] > 0
    )


def seed_demo_data(fake_users: int) -> DemoReport:
    """Seed `fake_users` fake users and the demo account with its todos and templates, in the
    current app's database."""
    seeded = seed_users(users(), fake_users, DEMO_SEED)
    demo = insert_user(
        build_user_document(DEMO_USERNAME, DEMO_EMAIL, hash_password(DEMO_PASSWORD), DEMO_NAME)
    )
    today = utcnow().date()
    for title, tags, due_in, done in DEMO_TODOS:
        due: date | None = today + timedelta(days=due_in) if due_in is not None else None
        fields = {"title": title, "tags": tags, "due": due, "done": done}
        insert_todo(build_todo_document(demo["_id"], DEMO_USERNAME, fields))
    author = {"type": "user", "id": str(demo["_id"]), "username": DEMO_USERNAME}
    for name, description, content in DEMO_TEMPLATES:
        fields = {"name": name, "description": description, "content": content}
        insert_template(build_template_document(fields, author))
    return DemoReport(seeded.inserted + 1, len(DEMO_TODOS), len(DEMO_TEMPLATES))
