"""Second-admin approval of changes to the call-back path (DESIGN: accounts and audit).

An attacker who takes over one publisher or admin account and redirects the switchboard phone, the
official email domains, a contact's email or the keys could impersonate an agency to every ISP that
calls back. When `CALLBACK_APPROVAL` is on (the default) such a change is not applied: `intercept`,
called first thing in `entries.update`, dry-runs it (every check of a real update: authorisation,
precondition, validation; then rolled back), stores it as a `PendingChange` against the entry's current
version and raises `ApprovalRequired` (HTTP 202). A *different* administrator approves it, which applies
it with `entries.update(..., if_version=<version at request time>)`; if the entry moved on meanwhile the
approval is refused (409) and the change must be resubmitted, so nobody approves a diff against a state
that no longer exists.

Exempt: system actors (the LDAP sync and the node's own jobs act under configuration an administrator
already approved; federation imports never pass through `entries.update`). Adding a contact is not a
call-back change: verification accepts a contact's email only inside the official domains, which are.
The previous values' owners and the admins are told when a change is requested; `entries.update`
tells the previous owners again when it is applied (`notifications.callback_changed`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from directory import audit, db, notifications, reads, runtime
from directory.actors import Actor
from directory.errors import Conflict, DirectoryError, Forbidden, Gone, NotFound, PreconditionFailed
from directory.models.approvals import STATUSES, PendingChange
from directory.paging import Page, paginate

CALLBACK_INPUTS = ("switchboard_phone", "official_email_domains", "keys", "contacts")
_applying: ContextVar[bool] = ContextVar("approvals_applying", default=False)


class ApprovalRequired(DirectoryError):
    """Not an error for the caller: the change is stored and waits (HTTP 202 with the pending change)."""

    status = 202
    code = "approval_required"

    def __init__(self, change: dict[str, Any]) -> None:
        super().__init__(f"changes to {', '.join(change['fields'])} need a second administrator's "
                         f"approval; stored as pending change {change['id']}")
        self.change = change


def enabled() -> bool:
    return bool(runtime.settings().get("CALLBACK_APPROVAL", True))


def callback_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Which parts of the call-back path differ between two documents."""
    found = [name for name in ("switchboard_phone", "official_email_domains")
             if old.get(name) != new.get(name)]
    if {k["fingerprint"] for k in old.get("keys", [])} != {k["fingerprint"] for k in new.get("keys", [])}:
        found.append("keys")
    before = {c["contact_id"]: c.get("email") for c in old.get("contacts", [])}
    found += [f"contacts.{c['contact_id']}.email" for c in new.get("contacts", [])
              if c["contact_id"] in before and before[c["contact_id"]] != c.get("email")]
    return found


@contextmanager
def _bypass() -> Iterator[None]:
    token = _applying.set(True)
    try:
        yield
    finally:
        _applying.reset(token)


def intercept(entry_id: str, changes: dict[str, Any], actor: Actor, *, if_version: int | None,
              if_match: str | None, sync_source: str | None, confirm: bool) -> None:
    """Return when the update may go ahead; raise ApprovalRequired after storing it otherwise."""
    if (_applying.get() or sync_source is not None or actor.kind == "system" or not enabled()
            or not set(changes) & set(CALLBACK_INPUTS)):
        return
    from directory import entries

    with db.write():
        old = entries.get_document(entry_id)
        with _bypass(), db.database.atomic() as savepoint:
            entries.update(entry_id, changes, actor, if_version=if_version, if_match=if_match,
                           confirm=confirm)
            new = entries.get_document(entry_id)
            savepoint.rollback()  # a dry run: every check ran, nothing stays
        touched = callback_fields(old, new)
        if not touched:
            return
        row = PendingChange.create(
            entry_id=entry_id, base_version=old["version"], changes=json.dumps(changes, default=str),
            fields=json.dumps(touched), requested_by=actor.label, requester_account=actor.account_id,
            requested_at=runtime.now())
        audit.record(actor, "approval.request", entry_id, "pending", {"change": row.id, "fields": touched})
        _tell_owners(old, row, touched)
    raise ApprovalRequired(as_dict(row))


def _tell_owners(old: Mapping[str, Any], row: PendingChange, touched: list[str]) -> None:
    previous = [c["email"] for c in old.get("contacts", []) if c.get("active", True)]
    body = (f"A change to the call-back details of {old['name']} ({old['entry_id']}) was requested by "
            f"{row.requested_by} and waits for a second administrator: {', '.join(touched)}.\n\n"
            "If you did not expect it, contact the directory's administrators before it is approved.\n")
    subject = f"Call-back change awaiting approval: {old['name']}"
    notifications.enqueue(notifications.publisher_addresses(old["entry_id"], fallback=previous), subject,
                          body, f"approval:{row.id}:owners")
    notifications.notify_admins(subject, body + f"\nApprove or reject change {row.id}.\n",
                                f"approval:{row.id}:admins")


def as_dict(row: PendingChange) -> dict[str, Any]:
    return {"id": row.id, "entry_id": row.entry_id, "base_version": row.base_version,
            "fields": json.loads(row.fields), "changes": json.loads(row.changes),
            "requested_by": row.requested_by, "requested_at": row.requested_at, "status": row.status,
            "decided_by": row.decided_by, "decided_at": row.decided_at,
            "applied_version": row.applied_version, "note": row.note}


def listing(actor: Actor, status: str | None = "pending", page: int = 1,
            per_page: int | None = None) -> Page:
    """Changes by status, oldest first (the API asks for pages; decided changes accumulate for ever)."""
    _require_admin(actor)
    query = PendingChange.select().order_by(PendingChange.id)
    if status:
        query = query.where(PendingChange.status == status)
    found = paginate(query, page, per_page, as_dict)
    if found.items:
        # A change of a contact carries the organisation's contacts (names, emails, phones): listing them
        # is a restricted read, audited like reading the entry itself.
        reads.charge(actor, "read.approvals", None, {"status": status, "count": len(found.items)})
    return found


def one(change_id: int, actor: Actor) -> dict[str, Any]:
    """One change, whatever its status (the `Location` of a 202); audited like the listing."""
    _require_admin(actor)
    row = _row(change_id)
    reads.charge(actor, "read.approvals", row.entry_id, {"change": row.id})
    return as_dict(row)


def approve(change_id: int, actor: Actor) -> dict[str, Any]:
    """Apply a pending change as a second admin, onto exactly the version it was requested against."""
    from directory import entries

    row = _pending(change_id, actor)
    if actor.label == row.requested_by:
        raise Forbidden("a change to the call-back path needs a different administrator's approval")
    try:
        with db.write():
            _decide(row, "approved", actor)
            with _bypass():
                info = entries.update(row.entry_id, json.loads(row.changes), actor,
                                      if_version=row.base_version)
            PendingChange.update(applied_version=info.version).where(PendingChange.id == row.id).execute()
            audit.record(actor, "approval.approve", row.entry_id, "ok",
                         {"change": row.id, "version": info.version})
    except (PreconditionFailed, NotFound, Gone) as exc:
        with db.write():
            _decide(row, "superseded", actor, "the entry changed after the request")
            audit.record(actor, "approval.approve", row.entry_id, "superseded", {"change": row.id})
        raise Conflict(f"the entry changed after change {row.id} was requested ({exc.message}); "
                       "the change was not applied: resubmit it against the current version") from None
    return as_dict(PendingChange.get_by_id(row.id))


def reject(change_id: int, actor: Actor, note: str = "") -> dict[str, Any]:
    row = _pending(change_id, actor)
    with db.write():
        _decide(row, "rejected", actor, note)
        audit.record(actor, "approval.reject", row.entry_id, "ok", {"change": row.id})
    return as_dict(PendingChange.get_by_id(row.id))


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise Forbidden("administrators only")


def _row(change_id: int) -> PendingChange:
    row: PendingChange | None = PendingChange.get_or_none(PendingChange.id == change_id)
    if row is None:
        raise NotFound(f"no pending change {change_id}")
    return row


def _pending(change_id: int, actor: Actor) -> PendingChange:
    _require_admin(actor)
    row = _row(change_id)
    if row.status != "pending":
        raise Conflict(f"change {change_id} was already {row.status}")
    return row


def _decide(row: PendingChange, status: str, actor: Actor, note: str = "") -> None:
    """Mark a decision only if nobody decided first (two admins clicking at once: one wins)."""
    assert status in STATUSES
    done = (PendingChange.update(status=status, decided_by=actor.label, decided_at=runtime.now(),
                                 note=note[:2000])
            .where((PendingChange.id == row.id) & (PendingChange.status == "pending")).execute())
    if not done:
        raise Conflict(f"change {row.id} was decided by someone else meanwhile")
