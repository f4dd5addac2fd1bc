"""The journal: every accepted local entry version and tombstone, in order, under one hash chain.

A leaf is sha256 of the envelope bytes exactly as served; the head after leaf n is
`h_n = sha256(h_(n-1) || leaf_n)` over the raw 32-byte digests, with `h_0` all zeros. `append` runs inside
the transaction that writes the version, so a version is never visible without its leaf, nor a leaf
without its version. Envelopes are rebuilt from the stored payload and signatures, never re-signed.
A version its organisation signs later (`signatures.attach`) is journaled again, with the longer
signature list, so that peers receive the signature: a version may have several leaves.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import peewee

from directory import db, runtime
from directory.errors import Forbidden
from directory.keys import SignatureRecord, envelope_bytes, make_envelope
from directory.models.entries import EntryVersion, Organisation
from directory.models.federation import JournalLeaf

GENESIS = "0" * 64
# PostgreSQL advisory lock: the audit trail's own. Entry writes append to both chains in one transaction;
# one lock for both means no two writers can ever take them in opposite orders (no deadlock).
_LOCK_KEY = 7211


_COLUMNS = (JournalLeaf.seq, JournalLeaf.entry_id, JournalLeaf.version, EntryVersion.payload,
            EntryVersion.signatures, JournalLeaf.leaf)


@dataclass(frozen=True)
class Item:
    seq: int
    entry_id: str
    version: int
    envelope: bytes


def chain(head: str, leaf: str) -> str:
    return hashlib.sha256(bytes.fromhex(head) + bytes.fromhex(leaf)).hexdigest()


def leaf_of(envelope: bytes) -> str:
    return hashlib.sha256(envelope).hexdigest()


def envelope_of(payload: bytes, signatures: str) -> bytes:
    """The envelope bytes of a stored version (canonical JSON: the same bytes every time)."""
    return _envelope(payload, json.loads(signatures))


def _journaled_envelope(payload: bytes, signatures: str, leaf: str) -> bytes:
    """The envelope of a stored version as it was journaled (its leaf), for `changes` and `snapshot`.

    An organisation may add its own signature to a version later (`signatures.attach`), which journals
    the version again; serving the longer list for the earlier leaf would change it and break the chain
    every peer checks. Signatures are only ever appended, so each leaf's list is a prefix of today's.
    With no prefix matching (a damaged row), today's envelope is served and the peer's check refuses it.
    """
    records = json.loads(signatures)
    current = _envelope(payload, records)
    if leaf_of(current) == leaf:
        return current
    for size in range(len(records) - 1, 0, -1):
        envelope = _envelope(payload, records[:size])
        if leaf_of(envelope) == leaf:
            return envelope
    return current


def _envelope(payload: bytes, records: list[dict[str, str]]) -> bytes:
    signed = [SignatureRecord(s["signer"], s["key_fpr"], s["sig"]) for s in records]
    return envelope_bytes(make_envelope(bytes(payload), signed))


def append(doc: dict[str, Any], payload: bytes, signatures: str) -> int:
    """Give a just-written local version, or one whose signatures just grew, the next seq; call inside
    the write transaction."""
    _check_scope(doc)
    with db.write():
        if not db.is_sqlite():
            # Serialise appenders so seq stays gapless and the chain linear (SQLite's IMMEDIATE
            # transaction already does this).
            db.database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        last = JournalLeaf.select(JournalLeaf.seq, JournalLeaf.head).order_by(JournalLeaf.seq.desc()).first()
        seq = last.seq + 1 if last else 1
        leaf = leaf_of(envelope_of(payload, signatures))
        JournalLeaf.create(seq=seq, entry_id=doc["entry_id"], version=doc["version"], leaf=leaf,
                           head=chain(last.head if last else GENESIS, leaf), at=runtime.now())
    return seq


def scope() -> tuple[frozenset[str], frozenset[str]]:
    """Countries and kinds this node may register (empty: no restriction)."""
    values = runtime.settings()
    return split(values.get("NODE_COUNTRIES", "")), split(values.get("NODE_KINDS", ""))


def split(text: str) -> frozenset[str]:
    return frozenset(part.strip() for part in (text or "").split(",") if part.strip())


def _check_scope(doc: dict[str, Any]) -> None:
    if "country" not in doc:  # a tombstone: the entry was in scope when it was registered
        return
    countries, kinds = scope()
    if countries and doc["country"] not in countries:
        raise Forbidden(f"this node may register organisations in {', '.join(sorted(countries))} only")
    if kinds and doc["kind"] not in kinds:
        raise Forbidden(f"this node may register organisations of kind {', '.join(sorted(kinds))} only")


def state() -> tuple[int, str]:
    """(size, head) of the journal now."""
    last = JournalLeaf.select(JournalLeaf.seq, JournalLeaf.head).order_by(JournalLeaf.seq.desc()).first()
    return (last.seq, last.head) if last else (0, GENESIS)


def session() -> str:
    """Names this journal's history: the first leaf. A rebuilt journal has another session."""
    first = JournalLeaf.get_or_none(JournalLeaf.seq == 1)
    return first.leaf if first else GENESIS


def counts() -> dict[str, int]:
    local = Organisation.select().where(Organisation.registrar == runtime.settings()["NODE_ID"])
    live = local.where(Organisation.deleted == False).count()  # noqa: E712 (peewee expression)
    return {"entries": live, "tombstones": local.count() - live}


def changes(after: int, limit: int) -> list[Item]:
    """Leaves after `after`, oldest first, with their envelopes."""
    query = (JournalLeaf.select(*_COLUMNS)
             .join(EntryVersion, on=((EntryVersion.entry_id == JournalLeaf.entry_id)
                                     & (EntryVersion.version == JournalLeaf.version)))
             .where(JournalLeaf.seq > after).order_by(JournalLeaf.seq).limit(limit))
    return list(_items(query))


def snapshot(after: int, limit: int) -> list[Item]:
    """Current versions of live local entries, ordered by the seq of that version's last leaf."""
    later = JournalLeaf.alias()
    # A version signed again has an older leaf with fewer signatures: serve the entry once, as it is now.
    resigned = later.select().where((later.entry_id == JournalLeaf.entry_id)
                                    & (later.version == JournalLeaf.version) & (later.seq > JournalLeaf.seq))
    query = (JournalLeaf.select(*_COLUMNS)
             .join(EntryVersion, on=((EntryVersion.entry_id == JournalLeaf.entry_id)
                                     & (EntryVersion.version == JournalLeaf.version)))
             .join(Organisation, on=((Organisation.entry_id == JournalLeaf.entry_id)
                                     & (Organisation.version == JournalLeaf.version)))
             .where((JournalLeaf.seq > after) & (Organisation.deleted == False)  # noqa: E712
                    & ~peewee.fn.EXISTS(resigned))
             .order_by(JournalLeaf.seq).limit(limit))
    return list(_items(query))


def current(entry_id: str) -> tuple[EntryVersion, bytes] | None:
    """The current version of a local entry and its envelope bytes (tombstones included)."""
    row = Organisation.get_or_none((Organisation.entry_id == entry_id)
                                   & (Organisation.registrar == runtime.settings()["NODE_ID"]))
    if row is None:
        return None
    version = EntryVersion.get((EntryVersion.entry_id == entry_id) & (EntryVersion.version == row.version))
    return version, envelope_of(version.payload, version.signatures)


def backfill() -> int:
    """Journal every stored version in write order (the migration for nodes older than federation)."""
    if JournalLeaf.select().exists():
        return 0
    head, seq, rows = GENESIS, 0, []
    for version in EntryVersion.select().order_by(EntryVersion.id):
        seq += 1
        leaf = leaf_of(envelope_of(version.payload, version.signatures))
        head = chain(head, leaf)
        rows.append({"seq": seq, "entry_id": version.entry_id, "version": version.version, "leaf": leaf,
                     "head": head, "at": version.created_at})
    for start in range(0, len(rows), 500):
        JournalLeaf.insert_many(rows[start:start + 500]).execute()
    return seq


def _items(query: Any) -> Iterator[Item]:
    for seq, entry_id, version, payload, signatures, leaf in query.tuples():
        yield Item(seq, entry_id, version, _journaled_envelope(payload, signatures, leaf))
