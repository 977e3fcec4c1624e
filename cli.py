"""Command-line tools: `flask --app run db|users|apikeys ...`."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from marshmallow import ValidationError
from tqdm import tqdm

from core.clock import format_timestamp, utcnow
from core.roles import ADMIN
from db import ensure_indexes, get_db
from schemas.users import RegisterSchema
from services.accounts import finish_interrupted_deletions
from services.api_keys import create_api_key, key_id_of
from services.passwords import hash_password
from services.seeding import DEFAULT_BATCH, MAX_BATCH, SEED_PASSWORD, seed_users
from stores.api_keys import list_api_keys, revoke_api_key
from stores.exceptions import Conflict
from stores.sessions import delete_expired_sessions
from stores.user_prefixes import RepairReport, build_rows_if_missing, repair_rows
from stores.users import build_user_document, insert_user

# AppGroup runs every command inside the app context.
db_cli = AppGroup("db", help="Database maintenance.")
users_cli = AppGroup("users", help="User accounts.")
apikeys_cli = AppGroup("apikeys", help="API keys for machine clients of the templates API.")


@db_cli.command("init", help="Create every index the queries rely on (idempotent); clean up.")
def init_db() -> None:
    db = get_db()
    names = ensure_indexes(db)
    click.echo(f"indexes ready: {', '.join(sorted(names))}")
    # The first release with user search rows builds them; later ones find them there.
    if report := build_rows_if_missing(db):
        _echo_repair(report)
    _clean_up()


@db_cli.command(
    "cleanup", help="Remove ended login sessions; finish interrupted account deletions."
)
def clean_up_db() -> None:
    _clean_up()


def _clean_up() -> None:
    # FerretDB 1.24 has no TTL indexes: ended sessions go here (run by every release's db init).
    removed = delete_expired_sessions(utcnow())
    finished = finish_interrupted_deletions()
    click.echo(f"removed {removed} ended sessions; finished {finished} account deletions")


@users_cli.command("create-admin", help="Create an admin account (password prompted if omitted).")
@click.option("--username", required=True)
@click.option("--email", required=True)
@click.option("--name", default="", help="Display name.")
@click.password_option("--password", help="Prompted (twice, hidden) when not given.")
@with_appcontext
def create_admin(username: str, email: str, name: str, password: str) -> None:
    # The same validation as registration: an admin account is no exception to the rules.
    try:
        data = RegisterSchema().load(
            {"username": username, "email": email, "password": password, "name": name}
        )
    except ValidationError as error:
        raise click.ClickException(f"invalid account: {error.messages}") from error
    document = build_user_document(
        data["username"], data["email"], hash_password(data["password"]), data["name"], ADMIN
    )
    try:
        user = insert_user(document)
    except Conflict as error:
        raise click.ClickException(f"That {error.field} is already taken.") from error
    click.echo(f"admin {user['username']} created with id {user['_id']}")


@users_cli.command(
    "reindex-search",
    help="Rebuild user search rows from the users: add missing, remove stale (idempotent).",
)
@with_appcontext
def reindex_search_command() -> None:
    _echo_repair(repair_rows(get_db()))


def _echo_repair(report: RepairReport) -> None:
    dropped = f"; dropped {', '.join(report.dropped_indexes)}" if report.dropped_indexes else ""
    click.echo(
        f"search rows of {report.users} users checked: {report.added} added, "
        f"{report.removed} removed{dropped}"
    )


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


def _when(value) -> str:
    return format_timestamp(value) if value else "-"


@apikeys_cli.command("create", help="Create an API key for OWNER and print it (once).")
@click.option("--owner", required=True, help="Who the key is for (a team, service or person).")
@with_appcontext
def create_api_key_command(owner: str) -> None:
    owner = owner.strip()
    if not 1 <= len(owner) <= 100:
        raise click.BadParameter("must be 1 to 100 characters", param_hint="--owner")
    document, key = create_api_key(owner)
    click.echo(
        f"API key {document['key_id']} created for {owner}. "
        "Store it now: it is shown only once and kept only as a hash.",
        err=True,
    )
    click.echo(key)


@apikeys_cli.command("list", help="List API keys: ids, prefixes, owners, use and revocation.")
@with_appcontext
def list_api_keys_command() -> None:
    rows = [("ID", "PREFIX", "OWNER", "CREATED", "LAST USED", "REVOKED")]
    for key in list_api_keys():
        rows.append(
            (
                key["key_id"],
                f"tk_{key['key_id']}_...",
                key["owner"],
                _when(key["created"]),
                _when(key.get("last_used")),
                _when(key.get("revoked_at")),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


@apikeys_cli.command("revoke", help="Revoke an API key, by id or prefix (tk_<id>...).")
@click.argument("reference")
@with_appcontext
def revoke_api_key_command(reference: str) -> None:
    key_id = key_id_of(reference)
    key = revoke_api_key(key_id) if key_id else None
    if key is None:
        raise click.ClickException(f"no API key matches {reference[:16]!r}")
    click.echo(
        f"API key {key['key_id']} ({key['owner']}) revoked at {_when(key['revoked_at'])}; "
        "it is refused from the next request on."
    )


def init_app(app: Flask) -> None:
    for group in (db_cli, users_cli, apikeys_cli):
        app.cli.add_command(group)
