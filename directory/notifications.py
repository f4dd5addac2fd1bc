"""Notifications that reach people: an outbox table, delivered by SMTP, each message at most once.

Who is told:
- publishers of an entry: the emails of publisher accounts linked to it (`Account.email`, optional);
  when none has one, the entry's active designated contacts, who are the people who know whether it is
  still right. Reminders go out 30, 7 and 1 days before each deadline (one row per threshold and
  deadline: the dedupe key), see `remind`.
- admins: admin accounts with an email plus DIRECTORY_ADMIN_EMAIL (`notify_admins`, also used by the
  LDAP sync job and federation).
- when a call-back detail changes (switchboard, official domains, contact emails, keys), the previous
  addresses too (`callback_changed`, called by `entries.update` in the transaction of the new version).

Delivery claims a row (status `sending`, a claim deadline) in its own short transaction before talking
to SMTP and marks it `sent` afterwards; only a deliverer that died between the two leaves a row whose
claim lapses, and its resend carries the same Message-ID so mail clients drop the duplicate.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, cast
from urllib.parse import urlparse

from directory import db, runtime
from directory.mailer import Mailer, MailError, from_url
from directory.models.accounts import Account, AccountOrganisation
from directory.models.entries import Contact
from directory.models.outbox import Outbox

log = logging.getLogger(__name__)

DAY = 86400
REMIND_DAYS = (30, 7, 1)
CLAIM_SECONDS = 300  # longer than any SMTP conversation (timeouts are 20 s per step)
MAX_ATTEMPTS = 12  # with the backoff below: about three days of trying
BACKOFF_CAP = 6 * 3600


def enqueue(recipients: Iterable[str], subject: str, body: str, dedupe_key: str) -> bool:
    """Queue a message once per `dedupe_key`; False when it was queued before or has no recipient."""
    addresses = sorted({r.strip().lower() for r in recipients if r and r.strip()})
    if not addresses:
        log.warning("notification %r has no recipient; not queued", subject)
        return False
    key = dedupe_key if len(dedupe_key) <= 300 else hashlib.sha256(dedupe_key.encode()).hexdigest()
    now = runtime.now()
    domain = urlparse(str(runtime.settings()["NODE_ID"])).hostname or "localhost"
    message_id = f"<{uuid.uuid4().hex}@{domain}>"
    Outbox.insert(dedupe_key=key, message_id=message_id, recipients=json.dumps(addresses),
                  subject=subject[:300], body=body, created_at=now, next_attempt_at=now,
                  ).on_conflict_ignore().execute()
    # Ours only if the row now holds our Message-ID (the insert is ignored when the key exists).
    return bool(Outbox.get(Outbox.dedupe_key == key).message_id == message_id)


def admin_addresses() -> list[str]:
    rows = Account.select(Account.email).where((Account.role == "admin") & ~Account.disabled &
                                                Account.email.is_null(False))
    extra = str(runtime.settings().get("ADMIN_EMAIL") or "")
    return [str(r.email) for r in rows] + ([extra] if extra else [])


def notify_admins(subject: str, body: str, dedupe_key: str) -> bool:
    """Tell the node's administrators (sync failures, federation rejections, stale entries)."""
    return enqueue(admin_addresses(), subject, body, dedupe_key)


def publisher_addresses(entry_id: str, fallback: Iterable[str] | None = None) -> list[str]:
    """Publisher accounts' emails; else `fallback`, else the entry's active contacts (see module doc)."""
    rows = (Account.select(Account.email).join(AccountOrganisation)
            .where((AccountOrganisation.entry_id == entry_id) & (Account.role == "publisher") &
                   ~Account.disabled & Account.email.is_null(False)))
    found = [str(r.email) for r in rows]
    if found:
        return found
    if fallback is not None:
        return list(fallback)
    return [c.email for c in Contact.select(Contact.email).where(
        (Contact.organisation == entry_id) & Contact.active)]


def notify_publishers(entry_id: str, subject: str, body: str, dedupe_key: str) -> bool:
    return enqueue(publisher_addresses(entry_id), subject, body, dedupe_key)


CALLBACK_FIELDS = ("switchboard_phone", "official_email_domains")


def callback_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Tell the previous addresses when details people call back on change (DESIGN: accounts and audit).

    An attacker who took over a publisher account and redirected the switchboard must not go unnoticed:
    the old contacts hear of it on a channel the attacker did not just set.
    """
    lines: list[str] = []
    for name in CALLBACK_FIELDS:
        if old.get(name) != new.get(name):
            lines.append(f"{name.replace('_', ' ')}: {_show(old.get(name))} -> {_show(new.get(name))}")
    old_keys = {k["fingerprint"] for k in old.get("keys", [])}
    new_keys = {k["fingerprint"] for k in new.get("keys", [])}
    if old_keys != new_keys:
        lines.append(f"keys: removed {_show(sorted(old_keys - new_keys))}, added "
                     f"{_show(sorted(new_keys - old_keys))}")
    before = {c["contact_id"]: c for c in old.get("contacts", [])}
    moved = []
    for contact in new.get("contacts", []):
        previous = before.get(contact["contact_id"])
        if previous is not None and previous["email"] != contact["email"]:
            lines.append(f"contact email of {contact['display_name']}: {previous['email']} -> "
                         f"{contact['email']}")
            moved.append(previous["email"])
    if not lines:
        return
    old_contacts = [c["email"] for c in old.get("contacts", []) if c.get("active", True)]
    recipients = publisher_addresses(str(new["entry_id"]), fallback=old_contacts) + moved
    body = (f"The call-back details of {new['name']} ({new['entry_id']}) changed in version "
            f"{new['version']}:\n\n" + "\n".join(f"  {line}" for line in lines) +
            "\n\nYou receive this because you were responsible for the previous details. If this change "
            "was not intended, contact the directory's administrators at once.\n")
    enqueue(recipients, f"Call-back details changed: {new['name']}", body,
            f"callback:{new['entry_id']}:{new['version']}")


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(none)"
    return str(value) if value not in (None, "") else "(none)"


@dataclass(frozen=True)
class Reminder:
    entry_id: str
    name: str
    what: str
    at: int
    threshold: int

    @property
    def key(self) -> str:
        return f"remind:{self.entry_id}:{self.what}:{self.at}:{self.threshold}"


def due_reminders(entry_id: str, name: str, deadlines: Iterable[Any], now: int) -> list[Reminder]:
    """For each deadline ahead: the tightest of 30, 7 and 1 days already crossed (an entry created 5
    days before a deadline gets the 7-day reminder only)."""
    found = []
    for deadline in deadlines:
        left = deadline.at - now
        crossed = [d for d in REMIND_DAYS if 0 < left <= d * DAY]
        if crossed:  # past deadlines are stale or expired entries, which admins are told about
            found.append(Reminder(entry_id, name, deadline.what, deadline.at, min(crossed)))
    return found


def remind(reminders: list[Reminder], now: int) -> int:
    """Queue the reminders not queued before (one outbox row per dedupe key); returns how many.

    Runs over the whole directory every hour, so it works in batches: the keys already queued, and the
    addresses of the entries concerned, are read with a few queries rather than per entry.
    """
    sent = sent_reminder_keys(now)
    todo = [r for r in reminders if r.key not in sent]
    addresses = publishers_of({r.entry_id for r in todo})
    domain = urlparse(str(runtime.settings()["NODE_ID"])).hostname or "localhost"
    rows = []
    for reminder in todo:
        to = sorted({a.strip().lower() for a in addresses.get(reminder.entry_id, [])})
        left = max(1, (reminder.at - now) // DAY)
        rows.append({
            "dedupe_key": reminder.key, "message_id": f"<{uuid.uuid4().hex}@{domain}>",
            "recipients": json.dumps(to), "created_at": now, "next_attempt_at": now,
            "subject": f"Reminder: {reminder.name}: {reminder.what} runs out on {_day(reminder.at)}"[:300],
            "body": f"{reminder.what.capitalize()} of {reminder.name} ({reminder.entry_id}) runs out on "
                    f"{_day(reminder.at)}, in {left} day(s).\n\nRe-confirm the entry, renew the key or "
                    f"record the emergency line test in the directory before then.\n",
            # Nobody to tell is recorded too (visible to admins, and not retried every hour).
            "status": "pending" if to else "failed",
            "last_error": "" if to else "no recipient: no publisher account with an email, no active contact",
        })
    bulk_insert(Outbox, rows, "(dedupe_key) DO NOTHING")
    return len(rows)


def bulk_insert(model: Any, rows: list[dict[str, Any]], on_conflict: str) -> None:
    """INSERT … ON CONFLICT for many rows with one prepared statement (SQLite ≥ 3.24 and PostgreSQL
    share this syntax): building peewee's multi-row INSERT costs more than the database's work here."""
    if not rows:
        return
    # peewee applies field defaults in Python, not in the schema: fill them in as peewee would.
    defaults = {f.column_name: f.default for f in model._meta.sorted_fields
                if f.default is not None and not callable(f.default) and f.column_name not in rows[0]}
    columns = [*rows[0], *defaults]
    param = db.database.param
    sql = (f'INSERT INTO "{model._meta.table_name}" ({", ".join(columns)}) VALUES '  # noqa: S608
           f'({", ".join([param] * len(columns))}) ON CONFLICT {on_conflict}')  # names from our models only
    cursor = db.database.cursor()
    cursor.executemany(sql, [tuple({**defaults, **r}[c] for c in columns) for r in rows])


def publishers_of(entry_ids: set[str]) -> dict[str, list[str]]:
    """`publisher_addresses` for many entries at once (chunks of 500 ids per query)."""
    ids = sorted(entry_ids)
    found: dict[str, list[str]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        accounts = (Account.select(Account.email, AccountOrganisation.entry_id).join(AccountOrganisation)
                    .where(AccountOrganisation.entry_id.in_(chunk) & (Account.role == "publisher") &
                           ~Account.disabled & Account.email.is_null(False)).tuples())
        for email, entry_id in cast(Iterable[tuple[str, str]], accounts):
            found.setdefault(entry_id, []).append(email)
        missing = [e for e in chunk if e not in found]
        contacts = (Contact.select(Contact.organisation, Contact.email)
                    .where(Contact.organisation.in_(missing) & Contact.active).tuples())
        for entry_id, email in cast(Iterable[tuple[str, str]], contacts):
            found.setdefault(entry_id, []).append(email)
    return found


def sent_reminder_keys(now: int) -> set[str]:
    """Reminder keys queued in the last 31 days (older deadlines have passed)."""
    rows = Outbox.select(Outbox.dedupe_key).where(Outbox.dedupe_key.startswith("remind:") &
                                                  (Outbox.created_at > now - 31 * DAY)).tuples()
    return {key for (key,) in cast(Iterable[tuple[str]], rows)}


def _day(epoch: int) -> str:
    from directory.freshness import day

    return day(epoch)


@dataclass(frozen=True)
class Delivery:
    sent: int = 0
    deferred: int = 0
    failed: int = 0

    def summary(self) -> str:
        return f"sent {self.sent}, deferred {self.deferred}, failed {self.failed}"


def deliver(mailer: Mailer | None = None, *, limit: int = 200) -> Delivery:
    """Send what is due; each row claimed first, so two deliverers never send one message twice."""
    mailer = mailer or from_url(str(runtime.settings()["SMTP_URL"]))
    if mailer is None:
        return Delivery()
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    counts = {"sent": 0, "deferred": 0, "failed": 0}
    now = runtime.now()
    due = (Outbox.select(Outbox.id).where(
        ((Outbox.status == "pending") & (Outbox.next_attempt_at <= now)) |
        ((Outbox.status == "sending") & (Outbox.claimed_until < now)))
        .order_by(Outbox.id).limit(limit))
    for row_id in [r.id for r in due]:
        if not _claim(row_id, holder, runtime.now()):
            continue
        row = Outbox.get_by_id(row_id)
        try:
            mailer.send(_message(row))
        except MailError as exc:
            counts["failed" if _retry_later(row, holder, str(exc)) else "deferred"] += 1
            continue
        with db.write():
            Outbox.update(status="sent", sent_at=runtime.now(), attempts=Outbox.attempts + 1, last_error=""
                          ).where((Outbox.id == row_id) & (Outbox.claimed_by == holder)).execute()
        counts["sent"] += 1
    return Delivery(**counts)


def _claim(row_id: int, holder: str, now: int) -> bool:
    with db.write():
        claimed = (Outbox.update(status="sending", claimed_by=holder, claimed_until=now + CLAIM_SECONDS)
                   .where((Outbox.id == row_id) & (
                       ((Outbox.status == "pending") & (Outbox.next_attempt_at <= now)) |
                       ((Outbox.status == "sending") & (Outbox.claimed_until < now))))
                   .execute())
    return bool(claimed)


def _retry_later(row: Outbox, holder: str, error: str) -> bool:
    """Back to pending with exponential backoff; True when it was the last attempt (status failed)."""
    attempts = row.attempts + 1
    final = attempts >= MAX_ATTEMPTS
    wait = min(60 * 2 ** (attempts - 1), BACKOFF_CAP)
    with db.write():
        Outbox.update(status="failed" if final else "pending", attempts=attempts, last_error=error[:2000],
                      next_attempt_at=runtime.now() + wait, claimed_until=0).where(
            (Outbox.id == row.id) & (Outbox.claimed_by == holder)).execute()
    log.warning("mail %s not delivered (attempt %d): %s", row.id, attempts, error)
    return final


def _message(row: Outbox) -> EmailMessage:
    message = EmailMessage()
    message["From"] = str(runtime.settings()["MAIL_FROM"])
    message["To"] = ", ".join(json.loads(row.recipients))
    message["Subject"] = row.subject
    message["Message-ID"] = row.message_id
    message["Date"] = formatdate(row.created_at, usegmt=True)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(row.body)
    return message
