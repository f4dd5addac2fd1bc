"""Checks on what a peer sent, before anything is stored: checkpoints, then journal items one by one.

Everything here only reads. A `Rejected` with `attack=True` means the peer (or someone in between) sent
something an honest peer never sends: a rollback, a replay, a forgery, a rewritten history, an entry
outside its scope. Ordinary failures (an expired checkpoint, a malformed page) have `attack=False`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from directory import documents, runtime
from directory.errors import DirectoryError
from directory.federation import journal
from directory.federation.node import CHECKPOINT_TYP
from directory.keys import CanonicalError, SignatureResult, envelope_bytes, open_envelope, verify_envelope
from directory.keys.keyring import dated_before
from directory.models.entries import EntryVersion, Organisation
from directory.models.federation import Peer, PeerState, RemoteLeaf

CLOCK_SKEW = 300
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_FINGERPRINT = re.compile(r"^[0-9A-F]{40}$")
_TOMBSTONE_FIELDS = frozenset({"typ", "entry_id", "registrar", "version", "prev", "iat"})
# What a stored entry has that no input does: the server stamps these (documents.SERVER_OWNED).
_ENTRY_STAMPS = frozenset({"typ", "entry_id", "registrar", "version", "prev", "iat", "confirmed_at"})
_CONTACT_STAMPS = documents.CONTACT_SERVER_OWNED
_SCHEMA = documents.OrganisationIn()  # reused: building one costs as much as checking a small entry


class Rejected(DirectoryError):
    status = 502
    code = "peer_rejected"

    def __init__(self, message: str, *, attack: bool = False) -> None:
        super().__init__(message)
        self.attack = attack


@dataclass(frozen=True)
class Checkpoint:
    session: str
    size: int
    head: str
    iat: int
    valid_until: int
    counts: dict[str, int]


@dataclass(frozen=True)
class Accepted:
    seq: int
    leaf: str
    doc: dict[str, Any]
    payload: bytes
    digest: str
    signatures: str  # JSON list, as EntryVersion stores it
    signed_again: bool = False  # a version already accepted, journaled again with more signatures

    @property
    def tombstone(self) -> bool:
        return bool(self.doc["typ"] == documents.TOMBSTONE_TYP)


def signed_payload(envelope: Any, peer: Peer, what: str) -> tuple[bytes, dict[str, Any]]:
    """Payload bytes and document of an envelope that must carry a good signature by the pinned key."""
    try:
        payload, results = verify_envelope(envelope, {peer.fingerprint: peer.public_key})
        _, records = open_envelope(envelope)
    except CanonicalError as exc:
        raise Rejected(f"{what}: malformed envelope: {exc.message}", attack=True) from exc
    pinned = [r for rec, r in zip(records, results, strict=True) if rec.key_fpr == peer.fingerprint]
    if not pinned:
        raise Rejected(f"{what} is not signed by the key pinned for {peer.name} ({peer.fingerprint})",
                       attack=True)
    bad = [r for r in pinned if not r.ok]
    if bad:
        raise Rejected(f"{what}: bad signature by the pinned key: {bad[0].reason}", attack=True)
    # verify_envelope refused a payload that is not canonical, so plain parsing yields the same value.
    doc = json.loads(payload)
    if not isinstance(doc, dict):
        raise Rejected(f"{what}: payload is not an object", attack=True)
    others = [r for rec, r in zip(records, results, strict=True) if rec.key_fpr != peer.fingerprint]
    if others:
        _check_organisation_signatures(envelope, doc, peer, what)
    return payload, doc


def _check_organisation_signatures(envelope: Any, doc: dict[str, Any], peer: Peer, what: str) -> None:
    """Extra signatures must be the organisation's, by a key listed in the signed entry itself."""
    keys = {k["fingerprint"]: k["public_key"] for k in doc.get("keys", []) if isinstance(k, dict)}
    keys[peer.fingerprint] = peer.public_key
    _, results = verify_envelope(envelope, keys)
    bad = [r for n, r in enumerate(results) if not r.ok and not _good_when_made(envelope, doc, keys, n, r)]
    if bad:
        raise Rejected(f"{what}: a signature does not verify: {bad[0].reason}", attack=True)


def _good_when_made(envelope: Any, doc: dict[str, Any], keys: dict[str, str], index: int,
                    result: SignatureResult) -> bool:
    """A signature whose key expired after it was made is history, not a forgery: a node that starts
    following late pulls old versions too, and answers show such a signature as `key_expired`. One made
    after its key expired stays refused (checked again as of the moment it was made), and so does one
    dated before the version was issued: the signer chooses that date, so with an expired key it would
    pass any new version off as signed in the key's lifetime."""
    if result.status != "key_expired" or result.created is None:
        return False
    iat = doc.get("iat")
    if not isinstance(iat, int) or dated_before(result.created, iat):
        return False
    _, then = verify_envelope(envelope, keys, now=result.created)
    return then[index].ok


def checkpoint(body: bytes, peer: Peer, state: PeerState | None) -> Checkpoint:
    """Verify a checkpoint with the pinned key and refuse any regression from the last good one."""
    _, doc = signed_payload(body, peer, "checkpoint")
    if doc.get("typ") != CHECKPOINT_TYP or doc.get("node") != peer.node_id:
        raise Rejected(f"checkpoint is not a {CHECKPOINT_TYP} of {peer.node_id}", attack=True)
    try:
        cp = Checkpoint(str(doc["session"]), int(doc["size"]), str(doc["head"]), int(doc["iat"]),
                        int(doc["valid_until"]), dict(doc["counts"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise Rejected(f"checkpoint is malformed: {exc}") from exc
    if not (_HEX64.match(cp.head) and _HEX64.match(cp.session)) or cp.size < 0:
        raise Rejected("checkpoint is malformed: head/session must be sha256 hex, size >= 0")
    now = runtime.now()
    if cp.iat > now + CLOCK_SKEW:
        raise Rejected(f"checkpoint is issued in the future ({cp.iat} > {now})", attack=True)
    if cp.valid_until <= now:
        raise Rejected(f"checkpoint expired at {cp.valid_until}")
    if state is not None and state.head is not None:
        _no_regression(cp, state)
    return cp


def _no_regression(cp: Checkpoint, state: PeerState) -> None:
    if cp.size < state.size:
        raise Rejected(f"rollback: checkpoint size {cp.size} is smaller than the accepted {state.size}",
                       attack=True)
    if state.iat is not None and cp.iat < state.iat:
        raise Rejected(f"replay: checkpoint issued at {cp.iat}, before the accepted one ({state.iat})",
                       attack=True)
    if state.size and cp.session != state.session:
        raise Rejected("history rewritten: the journal's session changed", attack=True)
    if cp.size == state.size and cp.head != state.head:
        raise Rejected(f"history rewritten: head at size {cp.size} differs from the accepted one",
                       attack=True)


@dataclass
class JournalCheck:
    """Walks a peer's journal items in order, checking each and the chain, keeping what passed."""

    peer: Peer
    start: int  # the accepted size: items continue from start + 1
    head: str
    target: Checkpoint
    accepted: list[Accepted] = field(default_factory=list)
    known: dict[str, tuple[int, str | None, bool]] = field(default_factory=dict)  # version, digest, deleted

    @property
    def seq(self) -> int:
        return self.start + len(self.accepted)

    @property
    def done(self) -> bool:
        return self.seq >= self.target.size

    def page(self, items: list[Any]) -> None:
        """Check one page of `/changes` items (an overlap with the accepted journal is compared)."""
        if not isinstance(items, list):
            raise Rejected("changes page is malformed: items must be a list")
        self._load_known(items)
        for item in items:
            if not isinstance(item, dict) or set(item) != {"entry_id", "envelope", "seq", "version"} or not (
                    _is_int(item["seq"]) and _is_int(item["version"]) and isinstance(item["entry_id"], str)):
                raise Rejected("changes item is malformed")
            if self.done:
                return  # the journal grew after the checkpoint: the rest waits for the next pull
            if item["seq"] <= self.seq:
                self._overlap(item)
            else:
                self._item(item)

    def finish(self) -> None:
        if self.seq != self.target.size or self.head != self.target.head:
            raise Rejected(f"history rewritten: journal up to {self.seq} does not chain to the "
                           f"checkpoint head at size {self.target.size}", attack=True)

    def _overlap(self, item: dict[str, Any]) -> None:
        seen = RemoteLeaf.get_or_none((RemoteLeaf.peer == self.peer.id) & (RemoteLeaf.seq == item["seq"]))
        leaf = journal.leaf_of(_envelope_bytes(item))
        if seen is not None and seen.leaf != leaf:
            raise Rejected(f"history rewritten: seq {item['seq']} now has a different leaf", attack=True)

    def _item(self, item: dict[str, Any]) -> None:
        seq, what = item["seq"], f"seq {item['seq']}"
        if seq != self.seq + 1:
            raise Rejected(f"journal has a gap: expected seq {self.seq + 1}, got {seq}", attack=True)
        raw = _envelope_bytes(item)
        payload, doc = signed_payload(item["envelope"], self.peer, what)
        if doc.get("entry_id") != item["entry_id"] or doc.get("version") != item["version"]:
            raise Rejected(f"{what}: envelope does not match the item's entry id and version", attack=True)
        self._check_document(doc, what)
        digest = hashlib.sha256(payload).hexdigest()
        signed_again = self._check_version(doc, payload, item["envelope"]["signatures"], what)
        leaf = journal.leaf_of(raw)
        self.head = journal.chain(self.head, leaf)
        signatures = json.dumps(item["envelope"]["signatures"], separators=(",", ":"))
        self.accepted.append(Accepted(seq, leaf, doc, payload, digest, signatures, signed_again))
        if not signed_again:
            self.known[doc["entry_id"]] = (doc["version"], digest, doc["typ"] == documents.TOMBSTONE_TYP)

    def _check_document(self, doc: dict[str, Any], what: str) -> None:
        if doc.get("typ") not in (documents.TYP, documents.TOMBSTONE_TYP):
            raise Rejected(f"{what}: not an entry or tombstone", attack=True)
        if doc.get("registrar") != self.peer.node_id:
            raise Rejected(f"{what}: registrar {doc.get('registrar')} is not {self.peer.node_id}",
                           attack=True)
        host = namespace(self.peer.node_id)
        if not str(doc.get("entry_id", "")).startswith(f"urn:cpd:{host}:"):
            raise Rejected(f"{what}: entry id {doc.get('entry_id')} is outside {host}'s namespace",
                           attack=True)
        _check_fields(doc, what)
        if doc["typ"] == documents.TOMBSTONE_TYP:
            return
        countries, kinds = journal.split(self.peer.countries), journal.split(self.peer.kinds)
        if (countries and doc.get("country") not in countries) or (kinds and doc.get("kind") not in kinds):
            raise Rejected(f"{what}: {doc.get('kind')} in {doc.get('country')} is outside the scope "
                           f"accepted from {self.peer.name}", attack=True)

    def _check_version(self, doc: dict[str, Any], payload: bytes, records: list[Any], what: str) -> bool:
        """True for a version already accepted, signed again; raises unless the item is that or the
        entry's next version."""
        version, digest, deleted = self.known.get(doc["entry_id"], (0, None, False))
        if doc["version"] <= version:
            self._check_signed_again(doc, payload, records, version, what)
            return True
        if deleted:
            raise Rejected(f"{what}: {doc['entry_id']} was deleted; it cannot change again", attack=True)
        if doc["version"] != version + 1 or doc.get("prev") != digest:
            raise Rejected(f"{what}: version {doc['version']} of {doc['entry_id']} does not follow the "
                           f"accepted version {version}", attack=True)
        return False

    def _check_signed_again(self, doc: dict[str, Any], payload: bytes, records: list[Any], newest: int,
                            what: str) -> None:
        """An accepted version comes again only when its organisation signed it at the registrar
        (`signatures.attach`): the same bytes, the accepted signatures first and unchanged, and more of
        them (`signed_payload` verified every one, as for a new version). Anything else is a replay
        or a forgery."""
        entry_id, version = doc["entry_id"], doc["version"]
        accepted = self._accepted_version(entry_id, version)
        if accepted is None:
            raise Rejected(f"{what}: replay: version {version} of {entry_id} is not newer than the "
                           f"accepted {newest}", attack=True)
        if payload != accepted[0]:
            raise Rejected(f"{what}: version {version} of {entry_id} was accepted with other content",
                           attack=True)
        before = json.loads(accepted[1])
        if records[:len(before)] != before:
            raise Rejected(f"{what}: the signatures of version {version} of {entry_id} do not begin with "
                           "the accepted ones", attack=True)
        if len(records) == len(before):
            raise Rejected(f"{what}: replay: version {version} of {entry_id} was accepted with these "
                           "signatures", attack=True)
        # What `signatures.attach` adds: the organisation's signature by one of its keys the version does
        # not carry yet. Anything else (a key's second signature, another registrar signature) could be
        # journaled again for ever, each leaf carrying the whole list.
        own = {_fpr(k.get("fingerprint")) for k in doc.get("keys", [])
               if isinstance(k, dict) and k.get("use") == "organisation"}
        held = {_fpr(r.get("key_fpr")) for r in before if isinstance(r, dict)}
        for record in records[len(before):]:
            fpr = _fpr(record.get("key_fpr"))
            if record.get("signer") != entry_id or fpr not in own or fpr in held:
                raise Rejected(f"{what}: version {version} of {entry_id} was journaled again with a "
                               "signature that is not a new one by an organisation key it lists", attack=True)
            held.add(fpr)

    def _accepted_version(self, entry_id: str, version: int) -> tuple[bytes, str] | None:
        """Payload and signatures (JSON) of a version as accepted: earlier in this pull, else stored."""
        for done in reversed(self.accepted):
            if (done.doc["entry_id"], done.doc["version"]) == (entry_id, version):
                return done.payload, done.signatures
        row = EntryVersion.get_or_none((EntryVersion.entry_id == entry_id)
                                       & (EntryVersion.version == version))
        return (bytes(row.payload), row.signatures) if row is not None else None

    def _load_known(self, items: list[Any]) -> None:
        ids = {i["entry_id"] for i in items if isinstance(i, dict) and isinstance(i.get("entry_id"), str)}
        ids -= set(self.known)
        if not ids:
            return
        rows = Organisation.select(Organisation.entry_id, Organisation.registrar, Organisation.version,
                                   Organisation.digest, Organisation.deleted).where(
            Organisation.entry_id.in_(sorted(ids)))
        for row in rows:
            if row.registrar != self.peer.node_id:
                raise Rejected(f"{row.entry_id} is registered at {row.registrar}, not {self.peer.node_id}",
                               attack=True)
            self.known[row.entry_id] = (row.version, row.digest, row.deleted)


def _fpr(value: Any) -> str:
    return value.replace(" ", "").upper() if isinstance(value, str) else ""


def namespace(node_id: str) -> str:
    """The host part of the entry ids a node registers: `urn:cpd:<namespace>:<uuid>`."""
    return urlsplit(node_id).netloc or node_id


def _check_fields(doc: dict[str, Any], what: str) -> None:
    """The pinned key says who sent a document, not that it is well-formed: a peer's entry must pass
    the schema local input passes, or one peer's bug crashes pulls and every page that shows it."""
    tombstone = doc["typ"] == documents.TOMBSTONE_TYP
    stamps = ("version", "iat") if tombstone else ("version", "iat", "confirmed_at", "not_after")
    problems = [f"{name}: not an integer" for name in stamps if not _is_int(doc.get(name))]
    prev = doc.get("prev")
    if prev is not None and not (isinstance(prev, str) and _HEX64.match(prev)):
        problems.append("prev: not a sha256 digest")
    if tombstone:
        problems += [f"{name}: unexpected" for name in sorted(set(doc) - _TOMBSTONE_FIELDS)]
        if problems:
            raise Rejected(f"{what}: not a valid tombstone ({'; '.join(problems)})", attack=True)
        return
    data, stamp_problems = _input_form(doc)
    errors = _SCHEMA.validate(data)
    # Paths only: the messages may quote values, and this reason is logged (no personal data in logs).
    problems += stamp_problems + [f"{path}: invalid" for path in documents.error_paths(errors)][:20]
    if problems:
        raise Rejected(f"{what}: not a valid entry document ({'; '.join(problems)})", attack=True)


def _input_form(doc: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The document as API input would have given it, and what is wrong with the server's stamps.

    Stored times are epoch seconds where input has ISO 8601; contacts and keys carry fields the
    server adds (their source, the key's fingerprint), checked here instead of by the input schema.
    """
    data = {k: v for k, v in doc.items() if k not in _ENTRY_STAMPS}
    data["not_after"] = _iso(data.get("not_after"))
    problems: list[str] = []
    if isinstance(data.get("emergency_channels"), list):
        data["emergency_channels"] = [
            dict(c, last_tested_at=_iso(c["last_tested_at"])) if isinstance(c, dict) and "last_tested_at" in c
            else c for c in data["emergency_channels"]]
    if isinstance(data.get("contacts"), list):
        data["contacts"] = [_owned(c, "contacts", _CONTACT_STAMPS, problems, _contact_stamps_ok)
                            for c in data["contacts"]]
    if isinstance(data.get("keys"), list):
        data["keys"] = [_owned(k, "keys", ("fingerprint",), problems, _key_stamps_ok) for k in data["keys"]]
    return data, problems


def _owned(item: Any, where: str, names: tuple[str, ...], problems: list[str],
           ok: Callable[[dict[str, Any]], bool]) -> Any:
    """`item` without the server's fields `names`, which `ok` checks instead."""
    if not isinstance(item, dict):
        return item  # the schema names the problem
    if not ok(item):
        problems.append(f"{where}: malformed {', '.join(names)}")
    return {k: v for k, v in item.items() if k not in names}


def _contact_stamps_ok(contact: dict[str, Any]) -> bool:
    source, source_id, verified = contact.get("source"), contact.get("source_id"), contact.get("verified_at")
    return (isinstance(source, str) and (source == "manual" or source.startswith("ldap:"))
            and (source_id is None or isinstance(source_id, str)) and (verified is None or _is_int(verified)))


def _key_stamps_ok(key: dict[str, Any]) -> bool:
    return isinstance(key.get("fingerprint"), str) and bool(_FINGERPRINT.match(key["fingerprint"]))


def _iso(value: Any) -> Any:
    """Epoch seconds as the ISO 8601 text input uses; anything else as it is, for the schema to refuse."""
    if not _is_int(value):
        return value
    try:
        return documents.iso(value)
    except (OverflowError, ValueError, OSError):
        return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _envelope_bytes(item: dict[str, Any]) -> bytes:
    try:
        return envelope_bytes(item["envelope"])
    except CanonicalError as exc:
        raise Rejected(f"seq {item.get('seq')}: malformed envelope: {exc.message}", attack=True) from exc
