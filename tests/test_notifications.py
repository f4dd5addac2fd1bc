"""Notifications through a real SMTP server (aiosmtpd on loopback): reminders arrive once, a server that
is down leaves the message in the outbox until it is back, STARTTLS, and call-back change notices."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from directory import documents, entries, freshness, notifications, runtime
from directory.mailer import Mailer, MailError, MemoryMailer, SmtpMailer
from directory.models.accounts import Account
from directory.models.outbox import Outbox
from tests.conftest import ADMIN

DAY = 86400
T0 = 1_780_000_000


class Inbox:
    """aiosmtpd handler keeping every message it accepted."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def subjects(self) -> list[str]:
        return [str(m["Subject"]).strip() for m in self.messages]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., tuple[Inbox, Controller]]]:
    started: list[Controller] = []

    def start(port: int, **options: Any) -> tuple[Inbox, Controller]:
        inbox = Inbox()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
        controller.start()
        started.append(controller)
        return inbox, controller

    yield start
    for controller in started:
        controller.stop()


def _message(subject: str = "hello") -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@node-a.example", "b@example.org", subject
    message["Message-ID"] = "<fixed-1@node-a.example>"
    message.set_content("body")
    return message


@pytest.mark.parametrize("kind", ["smtp", "memory"])
def test_mailer_contract(kind: str, smtp_server):
    """The fake and the real mailer agree: deliver keeping the Message-ID, raise MailError when down."""
    port = free_port()
    mailer: Mailer
    if kind == "smtp":
        down: Mailer = SmtpMailer.from_url(f"smtp://127.0.0.1:{port}")
        with pytest.raises(MailError):
            down.send(_message())
        inbox, _ = smtp_server(port)
        mailer = down
        mailer.send(_message())
        received = [str(m["Message-ID"]) for m in inbox.messages]
    else:
        with pytest.raises(MailError):
            MemoryMailer(fail=True).send(_message())
        memory = MemoryMailer()
        memory.send(_message())
        received = [str(m["Message-ID"]) for m in memory.sent]
    assert received == ["<fixed-1@node-a.example>"]


def _publisher_with_email(entry_id: str, email: str) -> None:
    from directory import accounts

    created = accounts.create(f"pub-{email}", "publisher", [entry_id], ADMIN)
    Account.update(email=email).where(Account.id == created.account_id).execute()


def test_each_reminder_arrives_once(app, clock, make_org, smtp_server):
    port = free_port()
    inbox, _ = smtp_server(port)
    mailer = SmtpMailer.from_url(f"smtp://127.0.0.1:{port}")
    clock(T0)
    entry_id = make_org(not_after=dt.datetime.fromtimestamp(T0 + 40 * DAY, dt.UTC).isoformat(),
                        emergency_channels=None)
    _publisher_with_email(entry_id, "publisher@telecom.example")
    expected = []
    for days_before, threshold in ((40, None), (29, 30), (20, None), (7, 7), (0.5, 1)):
        clock(T0 + 40 * DAY - int(days_before * DAY))
        freshness.check()
        freshness.check()  # the next hourly pass finds the same deadline: nothing new
        notifications.deliver(mailer)
        notifications.deliver(mailer)
        if threshold is not None:
            expected.append("Reminder: Example Telecom: the entry's signed validity runs out on 2026-07-07")
        assert inbox.subjects() == expected, (days_before, inbox.subjects())
    assert {str(m["To"]) for m in inbox.messages} == {"publisher@telecom.example"}
    assert len({str(m["Message-ID"]) for m in inbox.messages}) == 3


def test_a_message_waits_in_the_outbox_while_the_server_is_down(app, clock, smtp_server):
    clock(T0)
    port = free_port()
    mailer = SmtpMailer.from_url(f"smtp://127.0.0.1:{port}")
    assert notifications.enqueue(["admin@node-a.example"], "Test", "body", "test:1")
    assert notifications.deliver(mailer) == notifications.Delivery(deferred=1)
    row = Outbox.get(Outbox.dedupe_key == "test:1")
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, T0 + 60)
    assert "ConnectionRefusedError" in row.last_error

    inbox, _ = smtp_server(port)
    assert notifications.deliver(mailer) == notifications.Delivery()  # backing off: not yet
    clock(T0 + 59)
    assert notifications.deliver(mailer) == notifications.Delivery()
    clock(T0 + 60)
    assert notifications.deliver(mailer) == notifications.Delivery(sent=1)
    assert notifications.deliver(mailer) == notifications.Delivery()  # never twice
    assert inbox.subjects() == ["Test"] and str(inbox.messages[0]["Message-ID"]) == row.message_id
    sent = Outbox.get_by_id(row.id)
    assert (sent.status, sent.attempts, sent.sent_at) == ("sent", 2, T0 + 60)


def test_backoff_doubles_and_gives_up(app, clock):
    clock(T0)
    notifications.enqueue(["x@example.org"], "Test", "body", "test:2")
    down = MemoryMailer(fail=True)
    waits = []
    for _ in range(notifications.MAX_ATTEMPTS):
        row = Outbox.get(Outbox.dedupe_key == "test:2")
        clock(row.next_attempt_at)
        notifications.deliver(down)
        waits.append(Outbox.get_by_id(row.id).next_attempt_at - row.next_attempt_at)
    assert waits[:4] == [60, 120, 240, 480] and max(waits) == notifications.BACKOFF_CAP
    assert Outbox.get(Outbox.dedupe_key == "test:2").status == "failed"


def test_a_claimed_message_is_not_sent_by_a_second_deliverer(app, clock):
    clock(T0)
    notifications.enqueue(["x@example.org"], "Test", "body", "test:3")
    row = Outbox.get(Outbox.dedupe_key == "test:3")
    assert notifications._claim(row.id, "other-host:1:x", T0)  # another process is sending it now
    mailer = MemoryMailer()
    assert notifications.deliver(mailer) == notifications.Delivery() and mailer.sent == []
    clock(T0 + notifications.CLAIM_SECONDS + 1)  # that process died mid-send: resend, same Message-ID
    assert notifications.deliver(mailer).sent == 1
    assert str(mailer.sent[0]["Message-ID"]) == row.message_id


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_starttls_with_a_verified_certificate(app, clock, smtp_server, tmp_path):
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    port = free_port()
    inbox, _ = smtp_server(port, tls_context=context, require_starttls=True)
    plain = SmtpMailer.from_url(f"smtp://127.0.0.1:{port}")
    with pytest.raises(MailError):
        plain.send(_message("refused without STARTTLS"))
    untrusted = SmtpMailer.from_url(f"smtp://127.0.0.1:{port}?starttls=true")
    with pytest.raises(MailError, match="CERTIFICATE_VERIFY_FAILED"):
        untrusted.send(_message("refused: unknown CA"))
    SmtpMailer.from_url(f"smtp://127.0.0.1:{port}?starttls=true&cafile={cert}").send(_message("secure"))
    assert inbox.subjects() == ["secure"]


def test_the_outbox_job_uses_the_configured_server(app, clock, smtp_server):
    port = free_port()
    inbox, _ = smtp_server(port)
    runtime.configure({**runtime.settings(), "SMTP_URL": f"smtp://127.0.0.1:{port}",
                       "MAIL_FROM": "directory@node-a.example"})
    clock(T0)
    notifications.enqueue(["x@example.org"], "Configured", "body", "test:4")
    assert notifications.deliver().sent == 1
    assert str(inbox.messages[0]["From"]) == "directory@node-a.example"


def test_callback_changes_tell_the_previous_addresses(app, clock, make_org):
    clock(T0)
    entry_id = make_org(emergency_channels=None)
    doc = entries.get_document(entry_id)
    contact = doc["contacts"][0]
    entries.update(entry_id, documents.load({"switchboard_phone": "+49 30 111111"}, partial=True), ADMIN)
    first = Outbox.get(Outbox.dedupe_key == f"callback:{entry_id}:2")
    assert '"erika.mustermann@telecom.example"' in first.recipients  # the contacts: no publisher email
    assert "switchboard phone: +4930901820 -> +4930111111" in first.body, first.body

    _publisher_with_email(entry_id, "publisher@telecom.example")
    moved = {"contact_id": contact["contact_id"], "display_name": contact["display_name"],
             "email": "new.address@telecom.example"}
    entries.update(entry_id, documents.load({"contacts": [moved]}, partial=True), ADMIN)
    second = Outbox.get(Outbox.dedupe_key == f"callback:{entry_id}:3")
    assert second.recipients == '["erika.mustermann@telecom.example", "publisher@telecom.example"]'
    assert "erika.mustermann@telecom.example -> new.address@telecom.example" in second.body

    entries.update(entry_id, {"name": "Renamed Telecom"}, ADMIN)  # not a call-back detail: no notice
    assert Outbox.select().where(Outbox.dedupe_key == f"callback:{entry_id}:4").count() == 0


def test_admins_hear_once_when_entries_become_stale_or_expired(app, clock, make_org):
    runtime.configure({**runtime.settings(), "ADMIN_EMAIL": "ops@node-a.example"})
    clock(T0)
    entry_id = make_org(emergency_channels=None)
    make_org(name="Second Telecom", emergency_channels=None)
    assert "0 newly stale/expired" in freshness.check()

    def digests() -> list[Outbox]:
        return list(Outbox.select().where(Outbox.dedupe_key.startswith("freshness-digest:"))
                    .order_by(Outbox.id))

    clock(T0 + 181 * DAY)  # both entries are now past their re-confirmation
    make_org(name="Confirmed Later", emergency_channels=None)
    assert "2 newly stale/expired" in freshness.check()
    assert "0 newly stale/expired" in freshness.check()  # the next hour: nothing new to tell
    (first,) = digests()
    assert first.subject == "2 directory entries became stale or expired"
    assert first.recipients == '["ops@node-a.example"]'
    assert f"Example Telecom ({entry_id}): stale: entry not confirmed since 2026-05-28" in first.body

    clock(T0 + 366 * DAY)  # stale -> expired is news again, and the later entry is now stale
    freshness.check()
    latest = digests()[1]
    assert latest.subject == "3 directory entries became stale or expired"
    assert f"Example Telecom ({entry_id}): expired: entry expired on 2027-05-28" in latest.body
    assert "Confirmed Later" in latest.body and len(digests()) == 2
