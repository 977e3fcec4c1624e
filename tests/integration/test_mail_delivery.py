"""Mail through a real SMTP server (aiosmtpd on 127.0.0.1): each SMTP_URL scheme, the login from
the URL, and certificate checks on TLS and STARTTLS against a throwaway CA."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from app import create_app
from services.mail import send_mail
from tests.servers import SmtpServer

MAIL_FROM = "Flask API <no-reply@app.example.com>"


@pytest.fixture
def started(tmp_path: Path) -> Iterator[Callable[..., SmtpServer]]:
    """`started(tls=..., credentials=...)`: an SMTP server of that kind, stopped afterwards."""
    servers: list[SmtpServer] = []

    def start(**options) -> SmtpServer:
        server = SmtpServer(tmp_path / f"smtp{len(servers)}", **options)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def mail_app(smtp_url: str) -> Flask:
    return create_app(
        {
            "APP_ENV": "testing",
            "MONGO_URI": None,
            "REDIS_URL": None,
            "PROMETHEUS_ENABLED": False,
            "SMTP_URL": smtp_url,
            "MAIL_FROM": MAIL_FROM,
        }
    )


def send(app: Flask, to: str = "ada@example.com") -> None:
    with app.app_context():
        send_mail(
            to,
            "Reset your password",
            "password_reset",
            username="ada",
            link="https://app.example.com/#reset-password?token=abc",
            valid_for="30 minutes",
        )


def test_mail_arrives_over_smtp_with_a_text_and_an_html_body(smtp_server):
    send(mail_app(smtp_server.url))
    message = smtp_server.wait_for_message("ada@example.com")
    assert message["From"] == MAIL_FROM and message["Subject"] == "Reset your password"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "https://app.example.com/#reset-password?token=abc" in text
    assert 'href="https://app.example.com/#reset-password?token=abc"' in html


@pytest.mark.parametrize("tls", ["smtps", "starttls"])
def test_tls_and_starttls_deliver_to_a_server_whose_certificate_verifies(started, monkeypatch, tls):
    server = started(tls=tls)
    monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_path))
    send(mail_app(server.url))
    assert server.wait_for_message("ada@example.com")["Subject"] == "Reset your password"


@pytest.mark.parametrize("tls", ["smtps", "starttls"])
def test_tls_and_starttls_refuse_a_server_whose_certificate_does_not_verify(started, tls):
    """Nothing trusts the throwaway CA here: a reset link must not go to an impostor (smtplib's
    own STARTTLS would have sent it: it checks no certificate unless handed a context)."""
    server = started(tls=tls)
    with pytest.raises(ssl.SSLCertVerificationError):
        send(mail_app(server.url))
    assert server.messages == []


def test_the_login_in_smtp_url_is_used_percent_decoded(started, monkeypatch):
    """The server accepts mail only after this login (aiosmtpd's `auth_required`)."""
    server = started(tls="starttls", credentials=("mailer@example.com", "p@ss/word"))
    monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_path))
    url = server.url.replace("://", "://mailer%40example.com:p%40ss%2Fword@")
    send(mail_app(url))
    assert server.wait_for_message("ada@example.com")["Subject"] == "Reset your password"
