"""The plan: what a sync would change in an organisation's contacts, computed against its current document.

Planning is a pure function of (current document, snapshot, configuration, clock), so the dry run shows
exactly what applying would write, and a sync that finds nothing new produces an empty plan and no new
entry version. Contacts are matched by their source and the directory's stable id, never by name or
email, so renames and moves update a contact instead of replacing it. Contacts are never removed: a
contact that leaves is kept with `active: false` (history, and reactivation under the same id).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from directory.sync.config import SourceConfig
from directory.sync.contacts import Mapped, map_user
from directory.sync.source import DirectoryUser, Snapshot

LEFT_GROUPS = "no longer in a configured group (left, moved out of the base DN, or deleted)"
DISABLED = "account disabled in the directory"


@dataclass(frozen=True)
class Addition:
    source_id: str
    dn: str
    contact: dict[str, Any]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Update:
    contact_id: str
    source_id: str
    dn: str
    display_name: str
    # field -> (stored value, new value)
    changes: dict[str, tuple[Any, Any]]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Deactivation:
    contact_id: str
    source_id: str
    display_name: str
    reason: str


@dataclass(frozen=True)
class Skip:
    dn: str
    source_id: str | None
    reason: str


@dataclass(frozen=True)
class Plan:
    source: str
    organisation: str
    base_version: int | None
    # The organisation's complete contact list after the sync (other sources' contacts untouched).
    contacts: list[dict[str, Any]]
    additions: tuple[Addition, ...] = ()
    updates: tuple[Update, ...] = ()
    deactivations: tuple[Deactivation, ...] = ()
    skipped: tuple[Skip, ...] = ()
    # Designated users the directory returned, usable or not; zero trips a guard.
    designated: int = 0
    # Active contacts this source owned before the sync: the base of the deactivation ratio.
    active_before: int = 0
    entries_read: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def changed(self) -> bool:
        return bool(self.additions or self.updates or self.deactivations)

    def counts(self) -> dict[str, int]:
        """Numbers only: what the run record and the audit log may keep (no personal data)."""
        return {
            "entries_read": self.entries_read, "designated": self.designated,
            "active_before": self.active_before, "added": len(self.additions),
            "updated": len(self.updates), "deactivated": len(self.deactivations),
            "skipped": len(self.skipped),
        }


def make_plan(document: Mapping[str, Any], config: SourceConfig, snapshot: Snapshot, now: datetime) -> Plan:
    tag = config.source_tag
    stamp = int(now.timestamp())
    contacts: list[dict[str, Any]] = [dict(c) for c in document.get("contacts") or []]
    owned: dict[str, int] = {}
    for i, contact in enumerate(contacts):
        if contact.get("source") == tag and contact.get("source_id"):
            owned.setdefault(str(contact["source_id"]), i)
    active_before = sum(1 for i in owned.values() if contacts[i].get("active"))
    manual_emails = {str(c.get("email", "")).lower() for c in contacts if c.get("source") != tag}

    additions: list[Addition] = []
    updates: list[Update] = []
    deactivations: list[Deactivation] = []
    skipped = [Skip(dn, None, reason) for dn, reason in snapshot.rejected]
    seen: set[str] = set()
    for user in snapshot.users:
        seen.add(user.stable_id)
        index = owned.get(user.stable_id)
        current = contacts[index] if index is not None else None
        outcome = _user_outcome(user, config, document)
        if isinstance(outcome, str):
            if current is not None and current.get("active"):
                deactivations.append(_deactivate(contacts, index, outcome))
            elif current is None:
                skipped.append(Skip(user.dn, user.stable_id, outcome))
            continue
        if current is None:
            contact = _new_contact(outcome.fields, tag, user.stable_id, stamp)
            notes = outcome.notes
            if contact["email"].lower() in manual_emails:
                notes += ("the same email is already listed by a contact not managed by this source",)
            additions.append(Addition(user.stable_id, user.dn, contact, notes))
            continue
        update = _update(current, outcome, user, stamp, config.reverify_days)
        if update is not None:
            new_values = {k: new for k, (_, new) in update.changes.items()}
            contacts[owned[user.stable_id]] = {**current, **new_values}
            updates.append(update)

    for source_id, position in owned.items():
        if source_id not in seen and contacts[position].get("active"):
            deactivations.append(_deactivate(contacts, position, LEFT_GROUPS))

    # New contacts go after the existing ones in a stable order, so two identical runs plan identically.
    additions.sort(key=lambda a: (a.contact["display_name"].casefold(), a.source_id))
    contacts.extend(a.contact for a in additions)
    return Plan(
        source=config.name, organisation=config.organisation, base_version=document.get("version"),
        contacts=contacts, additions=tuple(additions), updates=tuple(updates),
        deactivations=tuple(deactivations), skipped=tuple(skipped), designated=len(snapshot.users),
        active_before=active_before,
        entries_read=snapshot.entries_read, notes=snapshot.notes)


def _user_outcome(user: DirectoryUser, config: SourceConfig, document: Mapping[str, Any]) -> Mapped | str:
    """The contact fields for a designated user, or the reason the user cannot be listed."""
    if user.disabled:
        return DISABLED
    mapped = map_user(user, config, document)
    return mapped if isinstance(mapped, Mapped) else mapped.reason


def _new_contact(fields: dict[str, Any], tag: str, source_id: str, stamp: int) -> dict[str, Any]:
    return {
        "contact_id": str(uuid.uuid4()),
        **fields,
        # Not in LDAP: a publisher may add these by hand and the sync leaves them alone.
        "working_hours": None,
        "key_fingerprints": [],
        "trained_on": None,
        "source": tag,
        "source_id": source_id,
        "verified_at": stamp,
        "active": True,
    }


def _update(current: dict[str, Any], mapped: Mapped, user: DirectoryUser, stamp: int,
            reverify_days: int) -> Update | None:
    desired = {**mapped.fields, "active": True}
    changes = {k: (current.get(k), v) for k, v in desired.items() if current.get(k) != v}
    verified = current.get("verified_at")
    # A sync confirms the contact (DESIGN: content freshness), but restamping every run would write a
    # new version every run; the stamp is renewed on change, or once it is `reverify_days` old.
    stale = not isinstance(verified, int) or stamp - verified >= reverify_days * 86400
    if not changes and not stale:
        return None
    changes["verified_at"] = (verified, stamp)
    return Update(contact_id=str(current.get("contact_id")), source_id=user.stable_id, dn=user.dn,
                  display_name=str(mapped.fields["display_name"]), changes=changes, notes=mapped.notes)


def _deactivate(contacts: list[dict[str, Any]], index: int | None, reason: str) -> Deactivation:
    assert index is not None
    contact = contacts[index]
    contacts[index] = {**contact, "active": False}
    return Deactivation(contact_id=str(contact.get("contact_id")), source_id=str(contact.get("source_id")),
                        display_name=str(contact.get("display_name", "")), reason=reason)
