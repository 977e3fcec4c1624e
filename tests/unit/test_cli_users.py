"""`flask users create-admin`: an admin account, validated like any registration."""

from __future__ import annotations

from db import get_db


def test_create_admin_makes_an_admin_who_can_log_in(app, client):
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", "--username", "root_admin", "--email", "root@example.com"],
        input="a-long-password\na-long-password\n",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        stored = get_db().users.find_one({"username_lc": "root_admin"})
    assert stored["role"] == "admin"
    login = client.post(
        "/api/v1/auth/login", json={"username": "root_admin", "password": "a-long-password"}
    )
    assert login.status_code == 200


def test_create_admin_refuses_an_invalid_account(app):
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", "--username", "x", "--email", "bad", "--password", "short"]
    )
    assert result.exit_code != 0
    assert "username" in result.output and "email" in result.output
    with app.app_context():
        assert get_db().users.count_documents({}) == 0


def test_create_admin_refuses_a_taken_username(app, make_user):
    make_user("taken")
    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "create-admin",
            "--username",
            "TAKEN",
            "--email",
            "t2@example.com",
            "--password",
            "long-enough-pw",
        ]
    )
    assert result.exit_code != 0 and "already taken" in result.output
