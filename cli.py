"""Command-line tools: `flask --app run db|users|apikeys ...`."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from tqdm import tqdm

from db import ensure_indexes, get_db
from services.seeding import DEFAULT_BATCH, MAX_BATCH, SEED_PASSWORD, seed_users

db_cli = click.Group("db", help="Database maintenance.")
users_cli = click.Group("users", help="User accounts.")
apikeys_cli = click.Group("apikeys", help="API keys for machine clients of the templates API.")


@db_cli.command("init", help="Create every index the queries rely on (idempotent).")
def init_db() -> None:
    names = ensure_indexes(get_db())
    click.echo(f"indexes ready: {', '.join(sorted(names))}")


@users_cli.command("seed", help="Bulk-insert COUNT fake users (deterministic for a seed).")
@click.option("--count", required=True, type=click.IntRange(min=1), help="How many users.")
@click.option("--seed", default=0, show_default=True, type=int, help="Same seed, same users.")
@click.option(
    "--batch",
    default=DEFAULT_BATCH,
    show_default=True,
    type=click.IntRange(1, MAX_BATCH),
    help="Users per insert_many call.",
)
@with_appcontext
def seed_users_command(count: int, seed: int, batch: int) -> None:
    # Seeded accounts share one published password: never in production.
    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException("refusing to seed fake users with APP_ENV=production")
    # The unique indexes are what make a rerun skip the users it already inserted.
    ensure_indexes(get_db())
    with tqdm(total=count, unit="users", unit_scale=True, desc="seeding") as bar:
        report = seed_users(get_db().users, count, seed, batch, progress=bar.update)
    click.echo(
        f"seeded {report.inserted} users, skipped {report.duplicates} already present "
        f"({report.rate:,.0f} users/s); every seeded account's password is {SEED_PASSWORD!r}"
    )


def init_app(app: Flask) -> None:
    for group in (db_cli, users_cli, apikeys_cli):
        app.cli.add_command(group)
