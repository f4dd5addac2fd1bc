"""The audit trail: append-only and hash-chained, so editing, deleting or reordering a row is detectable.

Each event's hash is sha256(previous hash || canonical JSON of the event). Details hold references and
counts, never the content of what was read (GUIDELINES.md §52). `verify()` walks the chain and names the
first row that does not fit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from directory import db, runtime
from directory.actors import Actor
from directory.models.audit import AuditEvent

GENESIS = "0" * 64


def _digest(prev: str, seq: int, at: int, actor: str, action: str, target: str | None, outcome: str,
            details: str) -> str:
    body = json.dumps([seq, at, actor, action, target, outcome, details], separators=(",", ":"),
                      ensure_ascii=False)
    return hashlib.sha256(prev.encode() + body.encode()).hexdigest()


@dataclass(frozen=True)
class Event:
    actor: Actor | None
    action: str
    target: str | None
    outcome: str
    details: dict[str, Any] | None = None


def record(actor: Actor | None, action: str, target: str | None, outcome: str,
           details: dict[str, Any] | None = None) -> None:
    """Append one event (in the caller's transaction when there is one, so it commits with the change)."""
    record_many([Event(actor, action, target, outcome, details)])


def record_many(events: Sequence[Event]) -> None:
    """Append events in order: the chain's head is read once and the rows go in as one statement."""
    if not events:
        return
    with db.joined():
        if not db.is_sqlite():
            # Serialise appenders so `seq` stays gapless and the chain linear on PostgreSQL.
            db.database.execute_sql("SELECT pg_advisory_xact_lock(7211)")
        last = db.rows("SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1")
        seq, prev = (last[0][0], last[0][1]) if last else (0, GENESIS)
        at = runtime.now()
        rows = []
        for event in events:
            seq += 1
            label = event.actor.label if event.actor else "system:node"
            text = json.dumps(event.details or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            digest = _digest(prev, seq, at, label, event.action, event.target, event.outcome, text)
            rows.append((seq, at, label, event.action, event.target, event.outcome, text, prev, digest))
            prev = digest
        db.run_many("INSERT INTO audit_event (seq, at, actor, action, target, outcome, details, prev_hash,"
                    " hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    rows: int
    broken_seq: int | None = None
    reason: str | None = None


def verify(batch: int = 5000) -> ChainReport:
    """Walk the chain in order; the first gap, edited row or broken link is reported."""
    prev, expected, count = GENESIS, 1, 0
    last_seq = 0
    while True:
        rows = list(AuditEvent.select().where(AuditEvent.seq > last_seq)
                    .order_by(AuditEvent.seq).limit(batch))
        if not rows:
            return ChainReport(True, count)
        for row in rows:
            if row.seq != expected:
                return ChainReport(False, count, expected, f"row {expected} is missing")
            if row.prev_hash != prev:
                return ChainReport(False, count, row.seq, f"row {row.seq} does not link to row {row.seq - 1}")
            digest = _digest(prev, row.seq, row.at, row.actor, row.action, row.target, row.outcome,
                             row.details)
            if digest != row.hash:
                return ChainReport(False, count, row.seq, f"row {row.seq} was modified")
            prev, expected, count, last_seq = row.hash, expected + 1, count + 1, row.seq
