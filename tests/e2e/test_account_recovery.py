"""Password reset and email verification end to end: the app under uwsgi (2 workers) mails
through a real SMTP server (aiosmtpd, in the test run) and the tests follow the mailed links."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from tests.e2e.helpers import login, register
from tests.servers import LiveServer, SmtpServer
from tests.support import API, FORGOT, ME, REFRESH, RESET, VERIFY, bearer, link_in

# Not the server's own address: links must name PUBLIC_URL, whatever the request's Host says.
PUBLIC_URL = "https://app.example.test"


@pytest.fixture(scope="module")
def mailbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path_factory.mktemp("smtp"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(live_server_factory, mailbox: SmtpServer) -> Iterator[LiveServer]:
    started = live_server_factory.start(SMTP_URL=mailbox.url, PUBLIC_URL=PUBLIC_URL)
    yield started
    live_server_factory.stop(started)


def post(http: requests.Session, server: LiveServer, path: str, body: dict, **kwargs):
    return http.post(f"{server.url}{path}", json=body, **kwargs)


RESET_SUBJECT = "Reset your password"
VERIFY_SUBJECT = "Confirm your email address"


def token_in_mail(mailbox: SmtpServer, email: str, subject: str, count: int = 1) -> str:
    """The token of the link in the `count`th mail with `subject` to `email`, once it arrived;
    the link must open the web client at PUBLIC_URL."""
    message = mailbox.wait_for_message(email, subject, count)
    view = "reset-password" if subject == RESET_SUBJECT else "verify-email"
    link = link_in(message.get_body(("plain",)).get_content(), view)
    assert link.group("origin") == PUBLIC_URL
    return link.group("token")


def test_forgot_mail_reset_then_only_the_new_password_works(server, mailbox, http):
    account = register(http, server)
    old = login(http, server, account)

    forgot = post(http, server, FORGOT, {"email": account["email"].upper()})
    assert forgot.status_code == 202
    token = token_in_mail(mailbox, account["email"], RESET_SUBJECT)
    assert (
        post(http, server, RESET, {"token": token, "password": "brand-new-pass"}).status_code == 204
    )

    old_credentials = {"username": account["username"], "password": account["password"]}
    assert post(http, server, f"{API}/auth/login", old_credentials).status_code == 401
    login(http, server, {**account, "password": "brand-new-pass"})
    assert http.get(f"{server.url}{ME}", headers=bearer(old["access_token"])).status_code == 401
    refreshed = http.post(f"{server.url}{REFRESH}", headers=bearer(old["refresh_token"]))
    assert refreshed.status_code == 401
    # The token never reaches the server's logs: it travels in the link's fragment.
    assert token not in server.log_text()


def test_a_reset_token_works_once(server, mailbox, http):
    account = register(http, server)
    post(http, server, FORGOT, {"email": account["email"]})
    token = token_in_mail(mailbox, account["email"], RESET_SUBJECT)
    assert (
        post(http, server, RESET, {"token": token, "password": "first-new-pass"}).status_code == 204
    )
    again = post(http, server, RESET, {"token": token, "password": "second-new-pass"})
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "invalid_reset_token"


def test_an_expired_reset_token_is_refused(start_live_server, mailbox, http):
    short = start_live_server(SMTP_URL=mailbox.url, PUBLIC_URL=PUBLIC_URL, PASSWORD_RESET_EXPIRES=1)
    account = register(http, short)
    post(http, short, FORGOT, {"email": account["email"]})
    token = token_in_mail(mailbox, account["email"], RESET_SUBJECT)
    time.sleep(2)  # past the 1-second lifetime
    response = post(http, short, RESET, {"token": token, "password": "too-late-pass"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_reset_token"
    login(http, short, account)


def test_an_unknown_address_gets_the_same_202_and_no_mail(server, mailbox, http):
    account = register(http, server)
    ghost = f"ghost-{uuid.uuid4().hex[:8]}@example.com"
    unknown = post(http, server, FORGOT, {"email": ghost})
    known = post(http, server, FORGOT, {"email": account["email"]})
    assert (unknown.status_code, unknown.json()) == (known.status_code, known.json())
    token_in_mail(mailbox, account["email"], RESET_SUBJECT)  # the known address's mail went out...
    assert mailbox.messages_to(ghost) == []  # ...and the unknown one's, which ran first, none


def test_links_name_public_url_whatever_host_the_request_names(server, mailbox, http):
    account = register(http, server)
    forgot = post(
        http, server, FORGOT, {"email": account["email"]}, headers={"Host": "evil.example"}
    )
    assert forgot.status_code == 202
    token_in_mail(mailbox, account["email"], RESET_SUBJECT)  # the link names PUBLIC_URL
    (message,) = mailbox.messages_to(account["email"], RESET_SUBJECT)
    assert "evil.example" not in message.as_string()


def test_registration_mails_a_link_that_verifies_the_address(server, mailbox, http):
    account = register(http, server)
    headers = bearer(login(http, server, account)["access_token"])
    assert http.get(f"{server.url}{ME}", headers=headers).json()["email_verified"] is False
    token = token_in_mail(mailbox, account["email"], VERIFY_SUBJECT)
    assert post(http, server, VERIFY, {"token": token}).status_code == 204
    assert http.get(f"{server.url}{ME}", headers=headers).json()["email_verified"] is True
    again = post(http, server, VERIFY, {"token": token})
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "invalid_verification_token"


def test_require_verified_email_refuses_login_until_the_link_is_followed(
    start_live_server, mailbox, http
):
    strict = start_live_server(
        SMTP_URL=mailbox.url, PUBLIC_URL=PUBLIC_URL, REQUIRE_VERIFIED_EMAIL=True
    )
    account = register(http, strict)
    credentials = {"username": account["username"], "password": account["password"]}
    refused = post(http, strict, f"{API}/auth/login", credentials)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "email_not_verified"
    wrong = post(http, strict, f"{API}/auth/login", {**credentials, "password": "wrong-pass"})
    assert wrong.status_code == 401
    token = token_in_mail(mailbox, account["email"], VERIFY_SUBJECT)
    assert post(http, strict, VERIFY, {"token": token}).status_code == 204
    login(http, strict, account)
