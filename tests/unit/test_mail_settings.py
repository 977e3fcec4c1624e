"""Mail settings (SMTP_URL, PUBLIC_URL, MAIL_FROM, MAIL_OUTBOX_DIR) as config.py reads them, and the
development outbox: one file per message, and a log line with its path but never the token."""

from __future__ import annotations

import logging

import pytest

from app import create_app
from config import ConfigError, load_config
from tests.support import FORGOT, link_in
from tests.unit.conftest import UNIT_CONFIG


@pytest.mark.parametrize(
    ("url", "server"),
    [
        ("smtp://127.0.0.1:2525", ("127.0.0.1", 2525, False, False, None, None)),
        ("smtp://mail.example", ("mail.example", 25, False, False, None, None)),
        ("smtps://u:p@mail.example", ("mail.example", 465, False, True, "u", "p")),
        (
            "smtp+starttls://me%40example.com:p%40ss%2Fw@mail.example:2587",
            ("mail.example", 2587, True, False, "me@example.com", "p@ss/w"),
        ),
    ],
)
def test_smtp_url_names_server_port_security_and_login(url, server):
    config = load_config({"APP_ENV": "testing", "SMTP_URL": url})
    assert config["MAIL_DELIVERY"] == "smtp"
    keys = ("SERVER", "PORT", "USE_TLS", "USE_SSL", "USERNAME", "PASSWORD")
    assert tuple(config[f"MAIL_{key}"] for key in keys) == server
    assert config["MAIL_TIMEOUT"] == 10


@pytest.mark.parametrize(
    "url", ["http://mail.example", "smtp://", "smtp+tls://mail.example", "smtp://mail:99999999"]
)
def test_a_malformed_smtp_url_is_refused(url):
    with pytest.raises(ConfigError, match="SMTP_URL"):
        load_config({"APP_ENV": "testing", "SMTP_URL": url})


@pytest.mark.parametrize(("env", "delivery"), [("testing", "memory"), ("development", "outbox")])
def test_without_smtp_url_mail_stays_in_memory_or_goes_to_the_outbox(env, delivery):
    assert load_config({"APP_ENV": env})["MAIL_DELIVERY"] == delivery


def test_public_url_is_an_origin_and_names_the_default_sender():
    config = load_config({"APP_ENV": "testing", "PUBLIC_URL": "https://app.example.com/"})
    assert config["PUBLIC_URL"] == "https://app.example.com"
    assert config["MAIL_FROM"] == "Flask API <no-reply@app.example.com>"
    local = load_config({"APP_ENV": "testing", "PORT": 8123})
    assert local["PUBLIC_URL"] == "http://127.0.0.1:8123"
    assert local["MAIL_FROM"] == "Flask API <no-reply@localhost>"


@pytest.mark.parametrize(
    "url", ["app.example.com", "ftp://app.example.com", "https://", "https://a.example/?x=1"]
)
def test_a_public_url_that_is_no_http_origin_is_refused(url):
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        load_config({"APP_ENV": "testing", "PUBLIC_URL": url})


def test_mail_from_must_be_an_address():
    with pytest.raises(ConfigError, match="MAIL_FROM"):
        load_config({"APP_ENV": "testing", "MAIL_FROM": "nobody"})
    config = load_config({"APP_ENV": "testing", "MAIL_FROM": "Team <team@example.com>"})
    assert config["MAIL_FROM"] == "Team <team@example.com>"


@pytest.fixture
def development_app(tmp_path):
    """Made before the test runs: the app sets up the root logger, which caplog then joins."""
    return create_app(
        {**UNIT_CONFIG, "APP_ENV": "development", "MAIL_OUTBOX_DIR": str(tmp_path / "outbox")}
    )


def test_development_writes_one_file_per_message_and_logs_only_its_path(
    development_app, tmp_path, caplog
):
    outbox = tmp_path / "outbox"
    client = development_app.test_client()
    body = {"username": "ada", "email": "ada@example.com", "password": "pass-word-1"}
    with caplog.at_level(logging.INFO, logger="services.mail"):
        assert client.post("/api/v1/auth/register", json=body, buffered=True).status_code == 201
        forgot = client.post(FORGOT, json={"email": "ada@example.com"}, buffered=True)
    assert forgot.status_code == 202
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 2
    texts = "\n".join(path.read_text() for path in files)
    tokens = [link_in(texts, view).group("token") for view in ("verify-email", "reset-password")]
    logged = sorted(r.getMessage() for r in caplog.records if r.name == "services.mail")
    assert logged == [f"mail written to the outbox: {path}" for path in files]
    everything_logged = caplog.text
    assert not any(token in everything_logged for token in tokens)
