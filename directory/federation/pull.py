"""Pull a peer: verified checkpoint, verified journal pages, one transaction, or nothing at all.

`pull_peer(name)` is what the CLI and the scheduler call. On any failure the store keeps the last good
copy, the reason goes to the peer's state and the audit trail, and an attack is also reported to the
node's administrators (when the notifications module is present).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import peewee

from directory import audit, db, notifications, projection, runtime
from directory.actors import Actor
from directory.errors import Conflict, DirectoryError, NotFound
from directory.federation import auth, journal, peers, verify
from directory.federation.transport import HttpTransport, Transport, TransportError
from directory.models.entries import EntryVersion
from directory.models.federation import Peer, PeerState, RemoteLeaf

log = logging.getLogger(__name__)
FEDERATION = Actor.system("federation")


@dataclass(frozen=True)
class PullResult:
    peer: str
    ok: bool
    applied: int = 0
    size: int = 0
    reason: str | None = None
    attack: bool = False


def pull_peer(name: str, transport: Transport | None = None) -> PullResult:
    """Pull one peer; never raises for what the peer did (the result says), only for an unknown name."""
    peer = Peer.get_or_none(Peer.name == name)
    if peer is None:
        raise NotFound(f"no peer named {name}")
    try:
        return _pull(peer, transport or HttpTransport())
    except verify.Rejected as exc:
        return _failed(peer, exc.message, exc.attack)
    except DirectoryError as exc:
        return _failed(peer, exc.message, False)
    except (ValueError, KeyError, TypeError, RecursionError, peewee.DatabaseError) as exc:
        # A malformed answer that slipped past the checks (or nesting deep enough to exhaust the parser):
        # the transaction was rolled back, so the store is as before.
        log.warning("pull of %s failed on malformed data", name, exc_info=True)
        return _failed(peer, f"malformed answer: {type(exc).__name__}: {exc}", False)


def pull_all(transport: Transport | None = None) -> list[PullResult]:
    return [pull_peer(peer.name, transport) for peer in Peer.select().order_by(Peer.name)]


def _pull(peer: Peer, transport: Transport) -> PullResult:
    if not peer.fingerprint or not peer.public_key:
        raise verify.Rejected(f"{peer.name} has no pinned key; it is never synced")
    state = PeerState.get_or_none(PeerState.peer == peer.id)
    cp = verify.checkpoint(_get(transport, peer, "/federation/v1/checkpoint", ""), peer, state)
    size, head = (state.size, state.head) if state is not None and state.head else (0, journal.GENESIS)
    check = verify.JournalCheck(peer, size, head, cp)
    limit = int(runtime.settings()["FEDERATION_PAGE_SIZE"])
    after = max(size - 1, 0)  # one leaf of overlap: a rewritten history shows at the seam
    while not check.done:
        page = json.loads(_get(transport, peer, "/federation/v1/changes", f"after={after}&limit={limit}"))
        items = page.get("items") if isinstance(page, dict) else None
        if not items:
            raise verify.Rejected(f"journal ends at {check.seq}, before the checkpoint size {cp.size}",
                                  attack=True)
        check.page(items)
        if check.seq == after and not check.done:
            # A page of nothing but leaves already read: asking again from the same place would get
            # the same page, for ever. (The first page of an incremental pull starts one leaf early.)
            raise verify.Rejected(f"journal does not advance past seq {after}", attack=True)
        after = check.seq
    check.finish()
    _apply(peer, cp, check.accepted, (size, head))
    return PullResult(peer.name, True, len(check.accepted), cp.size)


def _get(transport: Transport, peer: Peer, path: str, query: str) -> bytes:
    headers = auth.sign(peer.node_id, "GET", path, query)
    response = transport.get(peer.url.rstrip("/") + path + (f"?{query}" if query else ""), headers)
    if response.status != 200:
        raise TransportError(f"{path} answered HTTP {response.status}")
    return response.body


def _apply(peer: Peer, cp: verify.Checkpoint, accepted: list[verify.Accepted],
           started_from: tuple[int, str]) -> None:
    """Store every accepted version and the new checkpoint in one transaction."""
    now = runtime.now()
    versions = [a for a in accepted if not a.signed_again]
    with db.write():
        _check_unchanged(peer, started_from)
        rows = [{"entry_id": a.doc["entry_id"], "version": a.doc["version"], "payload": a.payload,
                 "digest": a.digest, "signatures": a.signatures, "tombstone": a.tombstone,
                 "created_at": a.doc["iat"], "actor": f"peer:{peer.name}"} for a in versions]
        _insert(EntryVersion, rows)
        _add_signatures([a for a in accepted if a.signed_again])
        latest = {a.doc["entry_id"]: a for a in versions}  # only an entry's newest version is projected
        live = {a.doc["entry_id"]: a for a in versions if not a.tombstone}
        for entry_id, item in latest.items():
            if item.tombstone and entry_id in live:
                # A tombstone only marks a row deleted; an entry created and deleted since the last
                # pull has no row yet, so its last live version is projected first to make one.
                projection.project(live[entry_id].doc, live[entry_id].digest)
            projection.project(item.doc, item.digest)
        _insert(RemoteLeaf, [{"peer": peer.id, "seq": a.seq, "entry_id": a.doc["entry_id"],
                              "version": a.doc["version"], "leaf": a.leaf} for a in accepted])
        values = {"session": cp.session, "size": cp.size, "head": cp.head, "iat": cp.iat,
                  "valid_until": cp.valid_until, "last_success_at": now, "last_attempt_at": now,
                  "last_error": None, "last_error_at": None}
        _save_state(peer, values)
        peers.mark_source(peer.node_id, cp.valid_until)
        audit.record(FEDERATION, "federation.pull", peer.name, "ok",
                     {"applied": len(accepted), "size": cp.size, "valid_until": cp.valid_until})


def _add_signatures(signed_again: list[verify.Accepted]) -> None:
    """Versions signed again (in journal order, so the longest list is written last): their signatures
    are the only thing that changes, and no view holds them (`signatures.statuses` reads them)."""
    for item in signed_again:
        EntryVersion.update(signatures=item.signatures).where(
            (EntryVersion.entry_id == item.doc["entry_id"]) & (EntryVersion.version == item.doc["version"])
        ).execute()


def _check_unchanged(peer: Peer, started_from: tuple[int, str]) -> None:
    """Refuse to apply when another pull of this peer (the scheduler's and an operator's at once) has
    applied since this one read the state: its older checkpoint would move the state back, and every
    later pull would then meet its own entries again and refuse them as a replay."""
    row = db.for_update(PeerState.select(PeerState.size, PeerState.head).where(
        PeerState.peer == peer.id)).first()
    now_at = (row.size, row.head) if row is not None and row.head else (0, journal.GENESIS)
    if now_at != started_from:
        raise Conflict(f"another pull of {peer.name} applied the journal up to {now_at[0]} "
                             "meanwhile; this one applied nothing")


def _failed(peer: Peer, reason: str, attack: bool) -> PullResult:
    now = runtime.now()
    state = PeerState.get_or_none(PeerState.peer == peer.id)
    with db.write():
        _save_state(peer, {"last_error": reason, "last_error_at": now, "last_attempt_at": now})
        audit.record(FEDERATION, "federation.pull", peer.name, "attack" if attack else "failed",
                     {"reason": reason[:500], "attack": attack})
    if attack:
        log.error("federation: refused data from %s: %s", peer.name, reason)
        _alert(peer, reason)
    else:
        log.warning("federation: pull of %s failed: %s", peer.name, reason)
    return PullResult(peer.name, False, 0, state.size if state else 0, reason, attack)


def _save_state(peer: Peer, values: dict[str, Any]) -> None:
    if not PeerState.update(values).where(PeerState.peer == peer.id).execute():
        PeerState.create(peer=peer.id, **values)


def _insert(model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 200):  # stay under SQLite's bound-parameter limit
        model.insert_many(rows[start:start + 200]).execute()


def _alert(peer: Peer, reason: str) -> None:
    """Tell the administrators (one message per peer and reason: a repeating attack is not a mail storm)."""
    key = "federation:" + hashlib.sha256(f"{peer.name}\n{reason}".encode()).hexdigest()[:32]
    try:
        with db.write():
            notifications.notify_admins(
                f"Federation: data from peer {peer.name} refused",
                f"Peer {peer.name} ({peer.url}) sent data that was refused as an attack:\n{reason}\n\n"
                "The last good copy is kept; see `directory peers list` and the audit trail.", key)
    except DirectoryError:  # an alert that cannot be queued must not hide the refusal, which is recorded
        log.exception("could not notify administrators about peer %s", peer.name)
