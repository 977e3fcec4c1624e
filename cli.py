"""Command-line tools: `flask --app run db|users|apikeys ...`."""

from __future__ import annotations

import click
from flask import Flask

from db import ensure_indexes, get_db

db_cli = click.Group("db", help="Database maintenance.")
users_cli = click.Group("users", help="User accounts.")
apikeys_cli = click.Group("apikeys", help="API keys for machine clients of the templates API.")


@db_cli.command("init", help="Create every index the queries rely on (idempotent).")
def init_db() -> None:
    names = ensure_indexes(get_db())
    click.echo(f"indexes ready: {', '.join(sorted(names))}")


def init_app(app: Flask) -> None:
    for group in (db_cli, users_cli, apikeys_cli):
        app.cli.add_command(group)
