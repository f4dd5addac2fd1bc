"""Entries: create, change and delete organisations' signed records, and read them at the right level.

Every change writes a new immutable version (version + 1, `prev` = sha256 of the previous version's
canonical bytes), signed by the node, and rewrites the query tables in the same transaction. Deletion
writes a signed tombstone. Nothing here knows about HTTP; authorisation is asked of the `Actor`.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from directory import approvals, audit, db, documents, notifications, projection, runtime
from directory.actors import Actor
from directory.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound, PreconditionFailed
from directory.federation import journal
from directory.keys import SignatureRecord, canonical_bytes, inspect_key, parse_canonical
from directory.models.entries import EntryVersion, Organisation

__all__ = ["Actor", "VersionInfo", "create", "delete", "get_document", "update"]

DAY = 86400
# Publishers describe their organisation; what it *is* (kind, country) is vetted by the node's admins.
ADMIN_OWNED = ("kind", "country")


@dataclass(frozen=True)
class VersionInfo:
    entry_id: str
    version: int
    digest: str
    tombstone: bool = False


def node_host() -> str:
    node_id = str(runtime.settings()["NODE_ID"])
    return urlparse(node_id).netloc or node_id


def new_entry_id(entry_uuid: str | None = None) -> str:
    return f"urn:cpd:{node_host()}:{entry_uuid or uuid.uuid4()}"


def create(fields: dict[str, Any], actor: Actor, *, entry_uuid: str | None = None) -> VersionInfo:
    """A new organisation (admins only: being listed is what vetting grants)."""
    if not actor.is_admin:
        raise Forbidden("only administrators create organisations")
    now = runtime.now()
    entry_id = new_entry_id(entry_uuid)
    doc: dict[str, Any] = {
        "typ": documents.TYP, "entry_id": entry_id, "registrar": runtime.settings()["NODE_ID"],
        "version": 1, "prev": None, "iat": now, "confirmed_at": now,
    }
    doc.update(_prepared(fields, {}, now))
    doc.setdefault("not_after", now + _max_validity())
    _check_validity(doc)
    with db.write():
        if Organisation.get_or_none(Organisation.entry_id == entry_id) is not None:
            raise Conflict(f"entry {entry_id} already exists")
        info = _write(doc, actor)
        audit.record(actor, "entry.create", entry_id, "ok", {"version": 1})
    return info


def update(entry_id: str, changes: dict[str, Any], actor: Actor, *, if_version: int | None = None,
           if_match: str | None = None, sync_source: str | None = None,
           confirm: bool = False) -> VersionInfo:
    """Replace the given top-level fields; a change that alters nothing writes no version."""
    # Call-back path changes may wait for a second admin (raises ApprovalRequired after storing them).
    approvals.intercept(entry_id, changes, actor, if_version=if_version, if_match=if_match,
                        sync_source=sync_source, confirm=confirm)
    with db.write():
        row = _current_for_update(entry_id)
        _check_may_edit(row, actor, changes, sync_source)
        _check_precondition(row, if_version, if_match)
        old = _parse_stored(_payload(row))
        now = runtime.now()
        new = dict(old)
        new.update(_prepared(changes, old, now, sync_source=sync_source))
        if confirm:
            new["confirmed_at"] = now
            new["not_after"] = now + _max_validity()
        if _content(new) == _content(old) and not confirm:
            return VersionInfo(entry_id, row.version, row.digest)
        new.update(version=row.version + 1, prev=row.digest, iat=now)
        _check_validity(new)
        info = _write(new, actor)
        notifications.callback_changed(old, new)  # the previous addresses hear of call-back changes
        audit.record(actor, "entry.confirm" if confirm else "entry.update", entry_id, "ok",
                     {"version": info.version, "fields": sorted(changes)})
    return info


def delete(entry_id: str, actor: Actor, *, if_version: int | None = None,
           if_match: str | None = None) -> VersionInfo:
    """Write a signed tombstone; the history stays, the id is never reused."""
    with db.write():
        row = _current_for_update(entry_id)
        _check_may_edit(row, actor, {}, None)
        _check_precondition(row, if_version, if_match)
        tomb = {"typ": documents.TOMBSTONE_TYP, "entry_id": entry_id, "registrar": row.registrar,
                "version": row.version + 1, "prev": row.digest, "iat": runtime.now()}
        info = _write(tomb, actor)
        audit.record(actor, "entry.delete", entry_id, "ok", {"version": info.version})
    return info


def get_document(entry_id: str) -> dict[str, Any]:
    """The current signed document (server-side callers: sync, federation, freshness)."""
    row = Organisation.get_or_none(Organisation.entry_id == entry_id)
    if row is None:
        raise NotFound(f"no organisation {entry_id}")
    if row.deleted:
        raise Gone(f"organisation {entry_id} was deleted")
    document: dict[str, Any] = _parse_stored(_payload(row))
    return document


# sha256 of stored payloads this process has already proven canonical (by writing or parsing them).
# The same bytes again need no second proof: the C parser alone builds the very same values, about ten
# times faster than the profile check and re-serialisation (a scheduled sync re-reads a roster of
# thousands of contacts each run). Every call still parses its own fresh copy, so callers may mutate it.
_PROVEN: OrderedDict[bytes, None] = OrderedDict()
_PROVEN_MAX = 4096
_PROVEN_LOCK = threading.Lock()


def _parse_stored(payload: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(payload).digest()
    with _PROVEN_LOCK:
        proven = digest in _PROVEN
        if proven:
            _PROVEN.move_to_end(digest)
    if proven:
        known: dict[str, Any] = json.loads(payload)
        return known
    document: dict[str, Any] = parse_canonical(payload)
    _remember(digest)
    return document


def _remember(digest: bytes) -> None:
    with _PROVEN_LOCK:
        _PROVEN[digest] = None
        _PROVEN.move_to_end(digest)
        while len(_PROVEN) > _PROVEN_MAX:
            _PROVEN.popitem(last=False)


def _payload(row: Organisation) -> bytes:
    version = EntryVersion.get((EntryVersion.entry_id == row.entry_id) &
                               (EntryVersion.version == row.version))
    return bytes(version.payload)


def _current_for_update(entry_id: str) -> Organisation:
    row: Organisation | None = db.for_update(Organisation.select().where(
        Organisation.entry_id == entry_id)).first()
    if row is None:
        raise NotFound(f"no organisation {entry_id}")
    if row.deleted:
        raise Gone(f"organisation {entry_id} was deleted")
    return row


def _check_precondition(row: Organisation, if_version: int | None, if_match: str | None) -> None:
    """Optimistic concurrency: the caller names the version (or its digest, the ETag) it edited."""
    if if_version is not None and if_version != row.version:
        raise PreconditionFailed(f"entry is at version {row.version}, not {if_version}")
    if if_match is not None and if_match != row.digest:
        raise PreconditionFailed(f"entry has changed since you read it (now version {row.version})")


def _check_may_edit(row: Organisation, actor: Actor, changes: dict[str, Any],
                    sync_source: str | None) -> None:
    if row.registrar != runtime.settings()["NODE_ID"]:
        raise Conflict(f"this entry is registered at {row.registrar} and is read-only here")
    if sync_source is not None:
        if actor.kind != "system":
            raise Forbidden("only the node's own sync may write as an LDAP source")
        return
    if not actor.can_edit(row.entry_id):
        raise Forbidden("you may not change this organisation")
    if not actor.is_admin:
        refused = sorted(set(changes) & set(ADMIN_OWNED))
        if refused:
            raise Forbidden("only administrators may change these fields",
                            {name: ["only administrators may change this field"] for name in refused})


def _prepared(fields: dict[str, Any], old: dict[str, Any], now: int, *,
              sync_source: str | None = None) -> dict[str, Any]:
    """Loaded input turned into document form: keys inspected, contacts merged with their history."""
    out = {k: v for k, v in fields.items() if v is not None or k in {"legal_name", "registration_id"}}
    if "keys" in fields:
        out["keys"] = [_key(k, now) for k in fields["keys"]]
    if "contacts" in fields:
        from directory import contacts

        out["contacts"] = contacts.merge(old.get("contacts", []), fields["contacts"], sync_source, now)
    keys = out.get("keys", old.get("keys", []))
    contact_list = out.get("contacts", old.get("contacts", []))
    known = {k["fingerprint"] for k in keys}
    for index, contact in enumerate(contact_list):
        missing = [f for f in contact.get("key_fingerprints", []) if f not in known]
        if missing:
            raise InvalidInput("a contact names a key that is not in the entry's keys",
                               {f"contacts.{index}.key_fingerprints": [f"unknown key {missing[0]}"]})
    return out


def _key(key_input: dict[str, Any], now: int) -> dict[str, Any]:
    info = inspect_key(key_input["public_key"])
    if info.revoked:
        raise InvalidInput("key is revoked", {"keys": [f"{info.fingerprint}: revoked"]})
    if info.expires is not None and info.expires.timestamp() <= now:
        raise InvalidInput("key has expired", {"keys": [f"{info.fingerprint}: expired"]})
    if key_input.get("use", "organisation") == "organisation" and not info.usable_for_signing:
        raise InvalidInput("organisation keys must be usable for signing",
                           {"keys": [f"{info.fingerprint}: {info.reason}"]})
    armored = key_input["public_key"]
    return {"fingerprint": info.fingerprint, "use": key_input.get("use", "organisation"),
            "public_key": armored.strip() + "\n" if isinstance(armored, str) else armored}


def _max_validity() -> int:
    return int(runtime.settings()["ENTRY_MAX_DAYS"]) * DAY


def _check_validity(doc: dict[str, Any]) -> None:
    if doc["not_after"] <= doc["iat"]:
        raise InvalidInput("not_after must be in the future", {"not_after": ["must be after now"]})
    if doc["not_after"] - doc["iat"] > _max_validity():
        days = runtime.settings()["ENTRY_MAX_DAYS"]
        raise InvalidInput(f"an entry is valid for at most {days} days",
                           {"not_after": [f"at most {days} days after the version's time"]})


def _content(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in {"version", "prev", "iat"}}


def _write(doc: dict[str, Any], actor: Actor) -> VersionInfo:
    payload = canonical_bytes(doc)
    raw_digest = hashlib.sha256(payload).digest()
    digest = raw_digest.hex()
    node = runtime.node_key()
    signature = SignatureRecord(signer=runtime.settings()["NODE_ID"], key_fpr=node.fingerprint,
                                sig=node.sign(payload))
    tombstone = doc["typ"] == documents.TOMBSTONE_TYP
    EntryVersion.create(entry_id=doc["entry_id"], version=doc["version"], payload=payload, digest=digest,
                        signatures=json.dumps([signature.__dict__]), tombstone=tombstone,
                        created_at=doc["iat"], actor=actor.label)
    journal.append(doc, payload, json.dumps([signature.__dict__]))
    projection.project(doc, digest)
    # Made by canonical_bytes, so canonical (if the transaction rolls back, the bytes simply never recur).
    _remember(raw_digest)
    return VersionInfo(doc["entry_id"], doc["version"], digest, tombstone)
