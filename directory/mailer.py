"""Sending one email: a small `Mailer` protocol, the SMTP implementation and an in-memory one for tests.

The outbox (`directory.notifications`) decides *what* and *when*; a mailer only hands one message to a
server and raises `MailError` when that did not happen, so the row stays queued for a retry.
URL form (DIRECTORY_SMTP_URL): `smtp://user:password@host:587?starttls=true&cafile=/path/ca.pem`
(STARTTLS, certificate verified against the system store or `cafile`), `smtps://host:465` (implicit TLS),
`smtp://127.0.0.1:25` (plain, for a local relay). A password in the URL is percent-decoded.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlparse

from directory.errors import ConfigurationError

TIMEOUT_SECONDS = 20


class MailError(Exception):
    """The message was not accepted by the server (it may be retried)."""


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Deliver one message or raise MailError."""


@dataclass(frozen=True)
class SmtpMailer:
    host: str
    port: int
    starttls: bool = False
    implicit_tls: bool = False
    username: str | None = None
    password: str | None = None
    cafile: str | None = None

    @classmethod
    def from_url(cls, url: str) -> SmtpMailer:
        parsed = urlparse(url)
        if parsed.scheme not in {"smtp", "smtps"} or not parsed.hostname:
            raise ConfigurationError(f"DIRECTORY_SMTP_URL: expected smtp://host:port or smtps://host:port, "
                                     f"got scheme {parsed.scheme!r}")
        query = parse_qs(parsed.query)
        starttls = query.get("starttls", ["false"])[0].lower() in {"1", "true", "yes", "on"}
        implicit = parsed.scheme == "smtps"
        return cls(host=parsed.hostname, port=parsed.port or (465 if implicit else 25), starttls=starttls,
                   implicit_tls=implicit, username=unquote(parsed.username) if parsed.username else None,
                   password=unquote(parsed.password) if parsed.password else None,
                   cafile=query.get("cafile", [None])[0])

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cafile)

    def send(self, message: EmailMessage) -> None:
        try:
            client: smtplib.SMTP
            if self.implicit_tls:
                client = smtplib.SMTP_SSL(self.host, self.port, timeout=TIMEOUT_SECONDS,
                                          context=self._context())
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_SECONDS)
            with client:
                if self.starttls:
                    client.starttls(context=self._context())
                if self.username:
                    client.login(self.username, self.password or "")
                refused = client.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:  # includes connection refused and TLS errors
            raise MailError(f"{type(exc).__name__}: {exc}") from exc
        if refused:
            raise MailError(f"recipients refused: {sorted(refused)}")


@dataclass
class MemoryMailer:
    """Keeps messages in a list; `fail` makes every send raise (a server that is down)."""

    sent: list[EmailMessage] = field(default_factory=list)
    fail: bool = False

    def send(self, message: EmailMessage) -> None:
        if self.fail:
            raise MailError("server unavailable")
        self.sent.append(message)


def from_url(url: str) -> Mailer | None:
    """The mailer for DIRECTORY_SMTP_URL; None when mail is switched off (messages wait in the outbox)."""
    return SmtpMailer.from_url(url) if url else None
