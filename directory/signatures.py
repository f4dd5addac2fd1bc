"""Signatures on entry versions: their status in every answer, and organisations' own signatures.

The registrar node signs every version it accepts; an organisation may add its own detached signature
(`gpg --detach-sign --armor` over the exact canonical bytes) with one of the keys listed in its entry
for that use; the version is then journaled again, so that peers receive the signature. Statuses are
computed under the directory's key policy (`directory.keys`) and cached briefly per version, because
they change only with time (expiry) or a new key document.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from directory import audit, db, runtime
from directory.actors import Actor
from directory.errors import Conflict, Forbidden, InvalidInput, NotFound
from directory.federation import journal
from directory.keys import SignatureRecord, inspect_key, parse_canonical, verify_detached
from directory.keys.keyring import dated_before
from directory.models.entries import EntryVersion

CACHE_SECONDS = 300
_cache: OrderedDict[tuple[str, str], tuple[float, list[dict[str, Any]]]] = OrderedDict()
_CACHE_SIZE = 4096


def keys_for(doc: dict[str, Any]) -> dict[str, str]:
    """Public keys that may sign this entry, by primary fingerprint: its registrar's and its own."""
    keys = {k["fingerprint"]: k["public_key"]
            for k in doc.get("keys", []) if k.get("use") == "organisation"}
    if doc.get("registrar") == runtime.settings()["NODE_ID"]:
        node = runtime.node_key()
        keys[node.fingerprint] = node.public_armored
    else:
        # A federated entry is vouched for by its registrar node, whose key this node pinned when the
        # peer was added; a registrar that is no longer a peer leaves the signature "unknown_key".
        from directory.federation import peers

        pinned = peers.registrar_key(doc["registrar"])
        if pinned is not None:
            keys[pinned[0]] = pinned[1]
    return keys


def statuses(row: EntryVersion) -> list[dict[str, Any]]:
    """Each signature of a version: who, which key, status and reason (cached for a few minutes)."""
    payload = bytes(row.payload)
    # Keyed by the bytes themselves, not the stored digest, so a tampered row is never answered from cache.
    cache_key = (hashlib.sha256(payload).hexdigest(), row.signatures)
    hit = _cache.get(cache_key)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    doc = parse_canonical(payload)
    keys = keys_for(doc)
    now = datetime.fromtimestamp(runtime.now(), UTC)
    result = []
    for record in json.loads(row.signatures):
        key = keys.get(record["key_fpr"])
        role = "registrar" if record["signer"] == doc.get("registrar") else "organisation"
        if key is None:
            result.append({**_label(record, role), "status": "unknown_key",
                           "reason": "the signing key is not one this entry may be signed with"})
            continue
        verdict = verify_detached(payload, record["sig"], [key], now)
        result.append({**_label(record, role), "status": verdict.status, "reason": verdict.reason})
    _cache[cache_key] = (time.monotonic(), result)
    while len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return result


def _label(record: dict[str, Any], role: str) -> dict[str, Any]:
    return {"signer": record["signer"], "key_fpr": record["key_fpr"], "role": role}


def attach(entry_id: str, version: int, signature: str, actor: Actor) -> list[dict[str, Any]]:
    """Add the organisation's own signature to a version; refused unless it is valid under the policy."""
    if not actor.can_edit(entry_id):
        raise Forbidden("only the organisation's publishers or an admin may add its signature")
    with db.write():
        # Locked: two signatures added at once must not both extend the same list (the journal would
        # hold a leaf whose list is no prefix of the stored one).
        row: EntryVersion | None = db.for_update(EntryVersion.select().where(
            (EntryVersion.entry_id == entry_id) & (EntryVersion.version == version))).first()
        if row is None:
            raise NotFound(f"organisation {entry_id} has no version {version}")
        payload = bytes(row.payload)
        doc = parse_canonical(payload)
        if row.tombstone:
            raise InvalidInput("a tombstone cannot be signed by the organisation")
        if doc["registrar"] != runtime.settings()["NODE_ID"]:
            # Federated entries are read-only here: the organisation signs at its registrar node.
            raise Conflict(f"this entry is registered at {doc['registrar']} and is read-only here")
        own = {k["fingerprint"]: k["public_key"]
               for k in doc.get("keys", []) if k.get("use") == "organisation"}
        if not own:
            raise InvalidInput("the entry lists no organisation key; add one to `keys` first")
        verdict = verify_detached(payload, signature, list(own.values()),
                                  datetime.fromtimestamp(runtime.now(), UTC))
        if not verdict.ok or verdict.key_fpr is None:
            raise InvalidInput(f"signature refused: {verdict.reason}",
                               {"signature": [f"{verdict.status}: {verdict.reason}"]})
        if verdict.created is not None and dated_before(verdict.created, doc["iat"]):
            # Peers accept the signature after its key expired only if it is dated no earlier than the
            # version (`verify._good_when_made`): refused now, not by every late peer for good.
            issued = datetime.fromtimestamp(doc["iat"], UTC)
            raise InvalidInput("the signature is dated before the version was issued",
                               {"signature": [f"made {verdict.created:%Y-%m-%d %H:%M} UTC, before the "
                                              f"version ({issued:%Y-%m-%d %H:%M} UTC)"]})
        expires = inspect_key(own[verdict.key_fpr]).expires
        if expires is not None and expires.timestamp() < doc["not_after"]:
            raise InvalidInput("the signing key expires before the entry does",
                               {"signature": [f"key {verdict.key_fpr} expires {expires:%Y-%m-%d}, "
                                              "before the entry's not_after"]})
        records = json.loads(row.signatures)
        if any(r["key_fpr"] == verdict.key_fpr for r in records):
            raise InvalidInput("this version already carries a signature by that key")
        records.append(SignatureRecord(signer=entry_id, key_fpr=verdict.key_fpr,
                                       sig=signature.strip() + "\n").__dict__)
        row.signatures = json.dumps(records)
        EntryVersion.update(signatures=row.signatures).where(EntryVersion.id == row.id).execute()
        # Journaled again with the longer list, or peers never receive the organisation's signature.
        journal.append(doc, payload, row.signatures)
        audit.record(actor, "entry.sign", entry_id, "ok", {"version": version, "key": verdict.key_fpr})
    return statuses(row)
