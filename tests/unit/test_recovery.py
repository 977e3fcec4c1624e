"""Password reset and email verification on the in-process stand-ins, with Flask-Mailman's locmem
backend keeping the mail (APP_ENV=testing without SMTP_URL)."""

from __future__ import annotations

import base64
import hashlib
import logging
from datetime import timedelta

import pytest

from core.clock import utcnow
from db import get_db
from tests.support import FORGOT, LOGIN, ME, REFRESH, REGISTER, RESEND, RESET, VERIFY, bearer
from tests.support import link_in as link_in_text
from tests.unit.conftest import UNIT_CONFIG

PUBLIC_URL = "https://app.example.com"


@pytest.fixture
def app_config() -> dict:
    return {**UNIT_CONFIG, "PUBLIC_URL": PUBLIC_URL}


@pytest.fixture
def outbox(app) -> list:
    """The messages sent, in order (Flask-Mailman's locmem backend appends to this list)."""
    state = app.extensions["mailman"]
    state.outbox = []
    return state.outbox


def post(client, path, body=None, headers=None):
    """POST, then close the response as a server does once it has sent it: the work scheduled
    to run after the response (the mail) runs then."""
    return client.post(path, json=body, headers=headers, buffered=True)


def link_in(message, view: str):
    """The link in a message's plain-text body, checked to be in its HTML body too."""
    match = link_in_text(message.body, view)
    ((html, kind),) = message.alternatives
    assert kind == "text/html" and f'href="{match.group(0)}"' in html
    return match


def login(client, username: str, password: str):
    return client.post(LOGIN, json={"username": username, "password": password})


def stored(app, user_id) -> dict:
    with app.app_context():
        return get_db().users.find_one({"_id": user_id})


@pytest.fixture
def account(make_user):
    """An existing account (made by an operator, so already verified)."""
    user, password = make_user("ada")
    return {"user": user, "password": password, "email": "ada@example.com"}


def forgot_token(client, outbox, email: str = "ada@example.com") -> str:
    sent = len(outbox)
    assert post(client, FORGOT, {"email": email}).status_code == 202
    assert len(outbox) == sent + 1
    return link_in(outbox[-1], "reset-password").group("token")


# --- forgot -------------------------------------------------------------------------------------
def test_forgot_mails_a_reset_link_to_the_account(client, outbox, account):
    response = post(client, FORGOT, {"email": "ADA@example.com"})
    assert response.status_code == 202
    (message,) = outbox
    assert message.to == ["ada@example.com"]
    assert message.subject == "Reset your password"
    assert "ada" in message.body and "30 minutes" in message.body
    link = link_in(message, "reset-password")
    assert link.group("origin") == PUBLIC_URL


def test_forgot_answers_an_unknown_address_the_same_and_mails_nothing(client, outbox, account):
    known = post(client, FORGOT, {"email": "ada@example.com"})
    unknown = post(client, FORGOT, {"email": "nobody@example.com"})
    assert (unknown.status_code, unknown.get_json()) == (known.status_code, known.get_json())
    assert [message.to for message in outbox] == [["ada@example.com"]]


def test_the_link_points_at_public_url_whatever_host_the_request_names(client, outbox, account):
    response = client.post(
        FORGOT,
        json={"email": "ada@example.com"},
        headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"},
        buffered=True,
    )
    assert response.status_code == 202
    link = link_in(outbox[-1], "reset-password")
    assert link.group("origin") == PUBLIC_URL
    assert "evil.example" not in outbox[-1].body + outbox[-1].alternatives[0][0]


def test_the_token_is_32_random_bytes_stored_only_as_its_sha256(app, client, outbox, account):
    token = forgot_token(client, outbox)
    assert len(base64.urlsafe_b64decode(token + "=")) == 32
    document = stored(app, account["user"]["_id"])
    assert document["reset_token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(document)
    lifetime = document["reset_token_expires"] - utcnow()
    assert timedelta(minutes=29) < lifetime <= timedelta(minutes=30)


def test_forgot_rejects_a_malformed_address_with_422(client, outbox):
    response = post(client, FORGOT, {"email": "not an address"})
    assert response.status_code == 422
    assert "email" in response.get_json()["error"]["details"]
    assert outbox == []


# --- reset --------------------------------------------------------------------------------------
def test_reset_sets_the_password_and_ends_every_login(client, outbox, account):
    before = login(client, "ada", account["password"]).get_json()
    other = login(client, "ada", account["password"]).get_json()
    token = forgot_token(client, outbox)

    response = post(client, RESET, {"token": token, "password": "a brand new pass"})

    assert response.status_code == 204 and response.data == b""
    assert login(client, "ada", account["password"]).status_code == 401
    assert login(client, "ada", "a brand new pass").status_code == 200
    for pair in (before, other):
        assert client.get(ME, headers=bearer(pair["access_token"])).status_code == 401
        refreshed = client.post(REFRESH, headers=bearer(pair["refresh_token"]))
        assert refreshed.status_code == 401


def test_a_reset_token_works_once(client, outbox, account):
    token = forgot_token(client, outbox)
    assert post(client, RESET, {"token": token, "password": "first new pass"}).status_code == 204
    again = post(client, RESET, {"token": token, "password": "second new pass"})
    assert again.status_code == 400
    assert again.get_json()["error"]["code"] == "invalid_reset_token"
    assert login(client, "ada", "first new pass").status_code == 200


def test_an_expired_reset_token_is_refused(client, outbox, account, clock):
    token = forgot_token(client, outbox)
    clock.set(utcnow() + timedelta(minutes=30, seconds=1))
    response = post(client, RESET, {"token": token, "password": "too late pass"})
    assert response.status_code == 400
    assert login(client, "ada", account["password"]).status_code == 200


def test_unknown_used_and_expired_tokens_get_the_same_answer(client, outbox, account, clock):
    used = forgot_token(client, outbox)
    post(client, RESET, {"token": used, "password": "first new pass"})
    expired = forgot_token(client, outbox)
    clock.set(utcnow() + timedelta(hours=1))
    answers = [
        post(client, RESET, {"token": token, "password": "whatever pass"})
        for token in (used, expired, "x" * 43)
    ]
    assert answers[0].status_code == 400
    assert len({(answer.status_code, answer.get_data()) for answer in answers}) == 1


def test_a_new_request_replaces_the_earlier_token(client, outbox, account):
    first = forgot_token(client, outbox)
    second = forgot_token(client, outbox)
    assert post(client, RESET, {"token": first, "password": "from the first"}).status_code == 400
    assert post(client, RESET, {"token": second, "password": "from the second"}).status_code == 204


def test_the_new_password_follows_registrations_rules(client, outbox, account):
    token = forgot_token(client, outbox)
    response = post(client, RESET, {"token": token, "password": "short"})
    assert response.status_code == 422
    assert "password" in response.get_json()["error"]["details"]
    # Nothing was spent: the same link still works with a valid password.
    assert post(client, RESET, {"token": token, "password": "long enough now"}).status_code == 204


@pytest.mark.parametrize(
    "body",
    [
        {"token": "abc"},
        {"password": "long enough now"},
        {"token": {"$ne": None}, "password": "x" * 8},
    ],
)
def test_reset_bodies_are_validated(client, body):
    assert post(client, RESET, body).status_code == 422


# --- limits -------------------------------------------------------------------------------------
class TestLimits:
    @pytest.fixture
    def app_config(self, app_config) -> dict:
        return {
            **app_config,
            "RATELIMIT_ENABLED": True,
            "PASSWORD_RESET_ACCOUNT_LIMIT": 2,
            "PASSWORD_RESET_ADDRESS_LIMIT": 6,
        }

    def test_an_address_gets_at_most_the_account_limit_of_mails_then_still_202(
        self, client, outbox, account, limiter_clock
    ):
        answers = [
            post(client, FORGOT, {"email": e})
            for e in ("ada@example.com", "ADA@example.com", "Ada@Example.com")
        ]
        assert [a.status_code for a in answers] == [202, 202, 202]
        assert answers[2].get_json() == answers[0].get_json()
        assert len(outbox) == 2
        limiter_clock.now += 3601
        assert post(client, FORGOT, {"email": "ada@example.com"}).status_code == 202
        assert len(outbox) == 3

    def test_unknown_addresses_spend_their_budget_the_same_way(self, client, outbox, account):
        """Past the budget the answer is unchanged, so a known and an unknown address cannot be
        told apart by when the mails stop."""
        known = [post(client, FORGOT, {"email": "ada@example.com"}) for _ in range(3)]
        unknown = [post(client, FORGOT, {"email": "ghost@example.com"}) for _ in range(3)]
        assert [(r.status_code, r.get_json()) for r in known] == [
            (r.status_code, r.get_json()) for r in unknown
        ]

    def test_one_client_address_is_limited_to_the_address_limit_with_429(
        self, client, outbox, limiter_clock
    ):
        answers = [post(client, FORGOT, {"email": f"n{i}@example.com"}) for i in range(7)]
        assert [a.status_code for a in answers] == [202] * 6 + [429]
        refused = answers[-1]
        assert refused.get_json()["error"]["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) > 3000
        limiter_clock.now += 3601
        assert post(client, FORGOT, {"email": "n9@example.com"}).status_code == 202

    def test_resend_is_limited_per_user_with_429(self, client, outbox):
        headers = registered_headers(client)
        answers = [post(client, RESEND, headers=headers) for _ in range(3)]
        assert [a.status_code for a in answers] == [202, 202, 429]


# --- mail failures ------------------------------------------------------------------------------
def test_a_failing_mail_server_is_logged_and_the_client_sees_202(
    client, outbox, account, monkeypatch, caplog
):
    from services import recovery

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("no SMTP server")

    monkeypatch.setattr(recovery, "send_mail", refuse)
    with caplog.at_level(logging.ERROR, logger="web.after_response"):
        response = post(client, FORGOT, {"email": "ada@example.com"})
    assert response.status_code == 202
    assert response.get_json() == post(client, FORGOT, {"email": "ghost@example.com"}).get_json()
    (record,) = [r for r in caplog.records if r.name == "web.after_response"]
    assert "mail_password_reset failed after the response" in record.getMessage()
    assert response.headers["X-Request-ID"] in record.getMessage()


def test_the_mail_is_sent_after_the_response_not_before(client, outbox, account):
    response = client.post(FORGOT, json={"email": "ada@example.com"})
    assert response.status_code == 202 and outbox == []
    response.close()  # what the server does once the response is sent
    assert len(outbox) == 1


# --- verification -------------------------------------------------------------------------------
def registered_headers(client, username: str = "grace") -> dict[str, str]:
    body = {"username": username, "email": f"{username}@example.com", "password": "pass-word-1"}
    assert post(client, REGISTER, body).status_code == 201
    return bearer(login(client, username, "pass-word-1").get_json()["access_token"])


def test_registration_mails_a_verification_link_and_starts_unverified(client, outbox):
    body = {"username": "grace", "email": "Grace@Example.com", "password": "pass-word-1"}
    response = post(client, REGISTER, body)
    assert response.status_code == 201
    assert response.get_json()["email_verified"] is False
    (message,) = outbox
    assert message.to == ["Grace@Example.com"] and message.subject == "Confirm your email address"
    assert link_in(message, "verify-email").group("origin") == PUBLIC_URL


def test_following_the_verification_link_verifies_the_address(client, outbox):
    headers = registered_headers(client)
    token = link_in(outbox[-1], "verify-email").group("token")
    response = post(client, VERIFY, {"token": token})
    assert response.status_code == 204
    assert client.get(ME, headers=headers).get_json()["email_verified"] is True
    again = post(client, VERIFY, {"token": token})
    assert again.status_code == 400
    assert again.get_json()["error"]["code"] == "invalid_verification_token"


def test_an_unknown_verification_token_is_400(client):
    response = post(client, VERIFY, {"token": "y" * 43})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_verification_token"


def test_an_expired_verification_token_is_refused(client, outbox, clock):
    registered_headers(client)
    token = link_in(outbox[-1], "verify-email").group("token")
    clock.set(utcnow() + timedelta(days=7, seconds=1))
    assert post(client, VERIFY, {"token": token}).status_code == 400


def test_resend_mails_a_new_link_that_replaces_the_first(client, outbox):
    headers = registered_headers(client)
    first = link_in(outbox[-1], "verify-email").group("token")
    response = post(client, RESEND, headers=headers)
    assert response.status_code == 202
    second = link_in(outbox[-1], "verify-email").group("token")
    assert len(outbox) == 2 and first != second
    assert post(client, VERIFY, {"token": first}).status_code == 400
    assert post(client, VERIFY, {"token": second}).status_code == 204


def test_resend_to_a_verified_address_sends_nothing(client, outbox, account, auth_headers):
    response = post(client, RESEND, headers=auth_headers(account["user"]))
    assert response.status_code == 202
    assert outbox == []


def test_resend_needs_a_login(client, outbox):
    response = post(client, RESEND)
    assert response.status_code == 401
    assert outbox == []


def test_changing_the_email_unverifies_it_and_mails_the_new_address(app, client, outbox, account):
    headers = bearer(login(client, "ada", account["password"]).get_json()["access_token"])
    reset_token = forgot_token(client, outbox)
    user_id = account["user"]["_id"]
    response = client.patch(
        f"/api/v1/users/{user_id}",
        json={"email": "ada@new.example"},
        headers=headers,
        buffered=True,
    )
    assert response.status_code == 200
    assert response.get_json()["email_verified"] is False
    message = outbox[-1]
    assert message.to == ["ada@new.example"]
    # The reset link went to the old address: it no longer opens the account.
    assert (
        post(client, RESET, {"token": reset_token, "password": "hijacked pass"}).status_code == 400
    )
    token = link_in(message, "verify-email").group("token")
    assert post(client, VERIFY, {"token": token}).status_code == 204
    assert stored(app, user_id)["email_verified"] is True


def test_changing_only_the_case_of_the_email_keeps_it_verified(client, outbox, account):
    headers = bearer(login(client, "ada", account["password"]).get_json()["access_token"])
    response = client.patch(
        f"/api/v1/users/{account['user']['_id']}",
        json={"email": "ADA@example.com"},
        headers=headers,
        buffered=True,
    )
    assert response.get_json()["email_verified"] is True
    assert outbox == []


def test_a_verification_link_for_an_old_address_does_not_verify_the_new_one(client, outbox):
    headers = registered_headers(client)
    old_token = link_in(outbox[-1], "verify-email").group("token")
    me = client.get(ME, headers=headers).get_json()
    client.patch(f"/api/v1/users/{me['id']}", json={"email": "g@new.example"}, headers=headers)
    assert post(client, VERIFY, {"token": old_token}).status_code == 400
    assert client.get(ME, headers=headers).get_json()["email_verified"] is False


def test_a_password_reset_also_verifies_the_address(client, outbox):
    headers = registered_headers(client)
    token = forgot_token(client, outbox, "grace@example.com")
    assert post(client, RESET, {"token": token, "password": "new pass word"}).status_code == 204
    fresh = bearer(login(client, "grace", "new pass word").get_json()["access_token"])
    assert client.get(ME, headers=fresh).get_json()["email_verified"] is True
    assert client.get(ME, headers=headers).status_code == 401


def test_other_users_do_not_see_whether_an_address_is_verified(client, account, add_user):
    viewer = add_user("someone")
    seen = client.get(f"/api/v1/users/{account['user']['_id']}", headers=viewer["headers"])
    assert "email_verified" not in seen.get_json() and "email" not in seen.get_json()


def test_accounts_from_before_verification_count_as_verified(app, client, account, auth_headers):
    with app.app_context():
        get_db().users.update_one(
            {"_id": account["user"]["_id"]}, {"$unset": {"email_verified": ""}}
        )
    me = client.get(ME, headers=auth_headers(account["user"])).get_json()
    assert me["email_verified"] is True


# --- REQUIRE_VERIFIED_EMAIL ---------------------------------------------------------------------
class TestRequireVerifiedEmail:
    @pytest.fixture
    def app_config(self, app_config) -> dict:
        return {**app_config, "REQUIRE_VERIFIED_EMAIL": True}

    def test_an_unverified_login_is_403_after_the_password_check(self, client, outbox):
        body = {"username": "grace", "email": "grace@example.com", "password": "pass-word-1"}
        post(client, REGISTER, body)
        refused = login(client, "grace", "pass-word-1")
        assert refused.status_code == 403
        assert refused.get_json()["error"]["code"] == "email_not_verified"
        assert login(client, "grace", "wrong password").status_code == 401
        token = link_in(outbox[-1], "verify-email").group("token")
        assert post(client, VERIFY, {"token": token}).status_code == 204
        assert login(client, "grace", "pass-word-1").status_code == 200

    def test_accounts_made_by_operators_and_older_accounts_log_in(self, app, client, account):
        assert login(client, "ada", account["password"]).status_code == 200
        with app.app_context():
            get_db().users.update_one(
                {"_id": account["user"]["_id"]}, {"$unset": {"email_verified": ""}}
            )
        assert login(client, "ada", account["password"]).status_code == 200


def test_create_admin_and_seed_make_verified_accounts(app):
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=[
            "users",
            "create-admin",
            "--username",
            "root",
            "--email",
            "root@example.com",
            "--password",
            "root-password-1",
        ]
    )
    assert created.exit_code == 0, created.output
    seeded = runner.invoke(args=["users", "seed", "--count", "3"])
    assert seeded.exit_code == 0, seeded.output
    with app.app_context():
        documents = list(get_db().users.find({}, {"email_verified": 1}))
    assert len(documents) == 4
    assert all(document["email_verified"] is True for document in documents)
