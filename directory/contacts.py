"""Designated contacts inside an entry: merging an edit with the contacts' history and their sources.

A contact keeps its `contact_id` for life. Contacts that came from an LDAP source (`source` =
`ldap:<name>`) are owned by that source: a manual edit of an LDAP-owned field, or removing such a contact
by hand, is refused with a 409 naming the source, because the next sync would silently undo it.
Each operation below writes one new entry version through `entries.update` (imported where used: entries
calls `merge` while writing, so a module-level import would be circular).
"""

from __future__ import annotations

import uuid
from typing import Any

from directory.actors import Actor
from directory.documents import LDAP_OWNED
from directory.errors import Conflict, InvalidInput, NotFound


def merge(old: list[dict[str, Any]], incoming: list[dict[str, Any]], sync_source: str | None,
          now: int) -> list[dict[str, Any]]:
    """The contact list after an edit (manual when `sync_source` is None, else by that LDAP source)."""
    if sync_source is not None:
        return _merge_sync(old, incoming, sync_source)
    _refuse_repeated_ids(incoming)
    by_id = {c["contact_id"]: c for c in old}
    result = []
    for contact in incoming:
        previous = by_id.pop(contact.get("contact_id", ""), None)
        if previous is None:
            result.append({**contact, "contact_id": contact.get("contact_id") or str(uuid.uuid4()),
                           "source": "manual", "source_id": None, "verified_at": None})
            continue
        merged = {**previous, **contact}
        _refuse_ldap_edit(previous, merged)
        result.append(merged)
    for removed in by_id.values():
        if removed["source"].startswith("ldap:"):
            raise Conflict(f"contact {removed['contact_id']} is managed by LDAP source "
                           f"{removed['source'][5:]!r}; remove it there")
    return result


def _refuse_repeated_ids(incoming: list[dict[str, Any]]) -> None:
    """Two contacts with one id would both claim the other's history (and break the contact table's
    unique key: a 500); each id names one contact."""
    seen: set[str] = set()
    for index, contact in enumerate(incoming):
        contact_id = contact.get("contact_id")
        if contact_id in seen:
            raise InvalidInput("two contacts have the same contact_id",
                               {f"contacts.{index}.contact_id": ["given to an earlier contact too"]})
        if contact_id:
            seen.add(contact_id)


def _refuse_ldap_edit(previous: dict[str, Any], merged: dict[str, Any]) -> None:
    if not previous["source"].startswith("ldap:"):
        return
    changed = [f for f in LDAP_OWNED if previous.get(f) != merged.get(f)]
    if changed:
        raise Conflict(
            f"{', '.join(changed)} of contact {previous['contact_id']} come from LDAP source "
            f"{previous['source'][5:]!r}; change them in the directory server",
            {f: ["owned by LDAP source " + previous["source"][5:]] for f in changed})


def _merge_sync(old: list[dict[str, Any]], incoming: list[dict[str, Any]],
                sync_source: str) -> list[dict[str, Any]]:
    """A sync may only touch its own contacts; every other contact must come back unchanged."""
    own = f"ldap:{sync_source}"
    others_before = [c for c in old if c["source"] != own]
    others_after = [c for c in incoming if c.get("source") != own]
    if others_before != others_after:
        raise Conflict(f"LDAP source {sync_source!r} may change only its own contacts")
    return [dict(c) for c in incoming]


def _current(entry_id: str) -> list[dict[str, Any]]:
    from directory import entries

    found: list[dict[str, Any]] = entries.get_document(entry_id).get("contacts", [])
    return found


def find(entry_id: str, contact_id: str) -> dict[str, Any]:
    for contact in _current(entry_id):
        if contact["contact_id"] == contact_id:
            return contact
    raise NotFound(f"organisation {entry_id} has no contact {contact_id}")


def add(entry_id: str, contact: dict[str, Any], actor: Actor, if_match: str | None) -> str:
    """Append a manual contact; returns its new id."""
    from directory import entries

    contact_id = str(uuid.uuid4())
    entries.update(entry_id, {"contacts": [*_current(entry_id), {**contact, "contact_id": contact_id}]},
                   actor, if_match=if_match)
    return contact_id


def change(entry_id: str, contact_id: str, changes: dict[str, Any], actor: Actor,
           if_match: str | None) -> None:
    from directory import entries

    find(entry_id, contact_id)
    if changes.get("contact_id", contact_id) != contact_id:
        # A contact keeps its id for life (history, verification and LDAP identity follow it).
        raise InvalidInput("a contact's id cannot be changed", {"contact_id": ["cannot be changed"]})
    updated = [{**c, **changes} if c["contact_id"] == contact_id else c for c in _current(entry_id)]
    entries.update(entry_id, {"contacts": updated}, actor, if_match=if_match)


def remove(entry_id: str, contact_id: str, actor: Actor, if_match: str | None) -> None:
    from directory import entries

    find(entry_id, contact_id)
    remaining = [c for c in _current(entry_id) if c["contact_id"] != contact_id]
    entries.update(entry_id, {"contacts": remaining}, actor, if_match=if_match)
