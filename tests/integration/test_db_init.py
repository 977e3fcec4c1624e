"""`flask db init` creates every declared index on a real MongoDB-wire server."""

from __future__ import annotations

from db import INDEXES, get_db


def test_db_init_creates_every_declared_index(app):
    with app.app_context():
        get_db().client.drop_database(get_db().name)
    result = app.test_cli_runner().invoke(args=["db", "init"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        for collection, models in INDEXES.items():
            existing = set(get_db()[collection].index_information())
            assert {m.document["name"] for m in models} <= existing, collection


def test_db_init_is_idempotent(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "init"]).exit_code == 0
    assert runner.invoke(args=["db", "init"]).exit_code == 0


def test_unique_username_index_is_enforced_case_insensitively(app, client):
    body = {"username": "Erin", "email": "erin@example.com", "password": "password-1"}
    assert client.post("/api/v1/auth/register", json=body).status_code == 201
    again = {**body, "username": "ERIN", "email": "erin2@example.com"}
    response = client.post("/api/v1/auth/register", json=again)
    assert response.status_code == 409
    assert response.get_json()["error"]["details"] == {"username": ["taken"]}


def test_unique_email_index_names_the_email(app, client):
    body = {"username": "fay", "email": "fay@example.com", "password": "password-1"}
    assert client.post("/api/v1/auth/register", json=body).status_code == 201
    again = {**body, "username": "fay2", "email": "FAY@example.com"}
    response = client.post("/api/v1/auth/register", json=again)
    assert response.status_code == 409
    assert response.get_json()["error"]["details"] == {"email": ["taken"]}
