"""Outgoing mail: Flask-Mailman bound to the app, each message a plain-text and an HTML body
rendered from templates/mail/, and where it goes (MAIL_DELIVERY, from config.py):

- `smtp`: the SMTP server of SMTP_URL, with a short timeout (MAIL_TIMEOUT); STARTTLS checks the
  server's certificate like `smtps://` does;
- `outbox` (development without SMTP_URL): one `.eml` file per message in MAIL_OUTBOX_DIR, and a
  log line naming the file, never its content (the links in it are credentials);
- `memory` (testing without SMTP_URL): Flask-Mailman's locmem outbox, `app.extensions
  ["mailman"].outbox`, for the tests to read.

Sending blocks on the server, so callers send after the response (web/after_response.py).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flask import Flask, current_app, render_template
from flask_mailman import EmailMessage, EmailMultiAlternatives, Mail
from flask_mailman.backends.base import BaseEmailBackend
from flask_mailman.backends.smtp import EmailBackend as FlaskMailmanSmtpBackend

from core.clock import utcnow

log = logging.getLogger(__name__)

mail = Mail()


class VerifyingSMTP(smtplib.SMTP):
    """smtplib's STARTTLS checks no certificate unless it is handed a context (and Flask-Mailman
    hands none): with the default context it checks the chain and the host name, as SMTP_SSL
    does, so a reset link never goes to whoever intercepts the connection."""

    def starttls(self, *args: Any, context: ssl.SSLContext | None = None, **kwargs: Any):
        return super().starttls(*args, context=context or ssl.create_default_context(), **kwargs)


class SmtpEmailBackend(FlaskMailmanSmtpBackend):
    """Flask-Mailman's SMTP backend, with certificate checks on STARTTLS too."""

    @property
    def connection_class(self) -> type[smtplib.SMTP]:
        return smtplib.SMTP_SSL if self.use_ssl else VerifyingSMTP


class OutboxEmailBackend(BaseEmailBackend):
    """Development without SMTP_URL: each message becomes one `.eml` file in MAIL_OUTBOX_DIR
    (any mail client opens it; the link is in the text part), and the log says which file."""

    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        folder = Path(current_app.config["MAIL_OUTBOX_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        for message in messages:
            # Names sort by when the message was written (to the millisecond).
            written = f"{utcnow():%Y%m%d-%H%M%S.%f}"[:-3]
            path = folder / f"{written}-{uuid.uuid4().hex[:8]}.eml"
            path.write_bytes(message.message().as_bytes())
            log.info("mail written to the outbox: %s", path)
        return len(messages)


BACKENDS = {"smtp": SmtpEmailBackend, "outbox": OutboxEmailBackend, "memory": "locmem"}


def init_app(app: Flask) -> None:
    app.config["MAIL_BACKEND"] = BACKENDS[app.config["MAIL_DELIVERY"]]
    app.config["MAIL_DEFAULT_SENDER"] = app.config["MAIL_FROM"]
    mail.init_app(app)


def send_mail(to: str, subject: str, template: str, **context: Any) -> None:
    """Send `templates/mail/<template>.txt` (and `.html`, as the alternative) to one address.

    Raises what the backend raises (an unreachable SMTP server, a refused recipient)."""
    message = EmailMultiAlternatives(
        subject,
        render_template(f"mail/{template}.txt", subject=subject, **context),
        to=[to],
        connection=mail.get_connection(),
    )
    message.attach_alternative(
        render_template(f"mail/{template}.html", subject=subject, **context), "text/html"
    )
    message.send()
