"""Peers: added by an administrator with a pinned fingerprint, listed with their state, removed.

`add` fetches the peer's descriptor and stores the key in it only when the key's fingerprint is the one
the administrator was given out of band and the descriptor is signed by that key; a peer is never stored
without a pinned key. `peer_valid_until` is the source-liveness clock the freshness module reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from directory import audit, db, freshness, runtime
from directory.actors import Actor
from directory.errors import Conflict, InvalidInput, NotFound
from directory.federation import journal
from directory.federation.node import DESCRIPTOR_TYP
from directory.federation.transport import HttpTransport, Transport, TransportError, check_url
from directory.federation.verify import Rejected, namespace
from directory.keys import CanonicalError, inspect_key, parse_canonical, verify_envelope
from directory.models.federation import Peer, PeerState
from directory.vocabulary import ORGANISATION_KINDS

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class PeerInfo:
    name: str
    url: str
    node_id: str
    fingerprint: str
    countries: str
    kinds: str
    size: int
    valid_until: int | None
    last_success_at: int | None
    last_error: str | None


def add(name: str, url: str, fingerprint: str, actor: Actor, *, countries: str = "", kinds: str = "",
        transport: Transport | None = None) -> Peer:
    """Pin a peer: its descriptor must be signed by the key with exactly this fingerprint."""
    fingerprint = fingerprint.replace(" ", "").upper()
    countries, kinds = _scope(countries, kinds)
    if not _NAME.match(name):
        raise InvalidInput("peer name: letters, digits, dot, dash, underscore", {"name": ["invalid"]})
    if not re.fullmatch(r"[0-9A-F]{40}", fingerprint):
        raise InvalidInput("give the full 40-digit fingerprint", {"fingerprint": ["not a fingerprint"]})
    url = url.rstrip("/")
    check_url(url, bool(runtime.settings()["FEDERATION_ALLOW_HTTP"]))
    node_id, public_key = fetch_descriptor(url, fingerprint, transport or HttpTransport())
    if _origin(node_id) != _origin(url) or urlsplit(node_id).path not in {"", "/"}:
        # A node's id is its origin (DESIGN.md). Otherwise a peer reached at one address could present
        # itself, and register entries, as another node that the administrator never pinned.
        raise Rejected(f"the peer's node id {node_id} is not the origin of {url}", attack=True)
    if node_id == runtime.settings()["NODE_ID"]:
        raise Rejected(f"the peer claims this node's own id {node_id}", attack=True)
    with db.write():
        if Peer.get_or_none((Peer.name == name) | (Peer.node_id == node_id)) is not None:
            raise Conflict(f"a peer named {name} or with node id {node_id} exists; remove it first")
        _check_namespace(node_id)
        peer: Peer = Peer.create(name=name, url=url, node_id=node_id, fingerprint=fingerprint,
                                 public_key=public_key, countries=countries, kinds=kinds,
                                 created_at=runtime.now())
        audit.record(actor, "federation.peer_add", name, "ok", {"fingerprint": fingerprint})
    return peer


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _check_namespace(node_id: str) -> None:
    """Entry ids carry the registrar's host: two nodes sharing one (`https://a.example` and
    `https://a.example/`) could each register ids that read as the other's."""
    own = namespace(node_id)
    others = [str(runtime.settings()["NODE_ID"])] + [p.node_id for p in Peer.select(Peer.node_id)]
    taken = next((other for other in others if namespace(other) == own), None)
    if taken is not None:
        raise Rejected(f"the peer's node id {node_id} would register entry ids of {taken} "
                       f"(urn:cpd:{own}:...)", attack=True)


def fetch_descriptor(url: str, fingerprint: str, transport: Transport) -> tuple[str, str]:
    """(node id, armored public key) from the descriptor, checked against the pinned fingerprint."""
    response = transport.get(url + "/.well-known/cpd-node", {})
    if response.status != 200:
        raise TransportError(f"descriptor answered HTTP {response.status}")
    try:
        env_doc = parse_canonical_envelope(response.body)
    except CanonicalError as exc:
        raise Rejected(f"descriptor is malformed: {exc.message}") from exc
    listed = env_doc.get("keys")  # unverified until the key it names checks the signature: any shape
    keys = [k.get("public_key") for k in (listed if isinstance(listed, list) else [])
            if isinstance(k, dict) and k.get("fingerprint") == fingerprint]
    public_key = keys[0] if keys else None
    if not isinstance(public_key, str) or inspect_key(public_key).fingerprint != fingerprint:
        raise Rejected(f"the peer does not present a key with the pinned fingerprint {fingerprint}",
                       attack=True)
    _, results = verify_envelope(response.body, {fingerprint: public_key})
    if not any(r.ok and r.key_fpr == fingerprint for r in results):
        raise Rejected("the descriptor is not signed by the pinned key", attack=True)
    expires = env_doc.get("expires")
    if (env_doc.get("typ") != DESCRIPTOR_TYP or not isinstance(env_doc.get("node"), str)
            or not isinstance(expires, int) or isinstance(expires, bool)):
        raise Rejected("not a node descriptor")
    if expires <= runtime.now():
        # A node signs its descriptor afresh for every request: an expired one is a copy replayed from
        # the past, and may name a key the node has since replaced.
        raise Rejected("the peer's descriptor has expired: it must publish a fresh one")
    return env_doc["node"], public_key


def parse_canonical_envelope(body: bytes) -> dict[str, Any]:
    """The document inside an envelope, unverified (the caller verifies with the key it names)."""
    from directory.keys import open_envelope

    payload, _ = open_envelope(body)
    doc = parse_canonical(payload)
    if not isinstance(doc, dict):
        raise CanonicalError("payload is not an object")
    return doc


def remove(name: str, actor: Actor) -> None:
    """Forget a peer. Its entries stay, read-only; with no checkpoint any more they are source_stale."""
    with db.write():
        peer = Peer.get_or_none(Peer.name == name)
        if peer is None:
            raise NotFound(f"no peer named {name}")
        peer.delete_instance(recursive=True)
        mark_source(peer.node_id, 0)
        audit.record(actor, "federation.peer_remove", name, "ok", {})


def listing() -> list[PeerInfo]:
    out = []
    for peer in Peer.select().order_by(Peer.name):
        state = PeerState.get_or_none(PeerState.peer == peer.id)
        out.append(PeerInfo(peer.name, peer.url, peer.node_id, peer.fingerprint, peer.countries, peer.kinds,
                            state.size if state else 0, state.valid_until if state else None,
                            state.last_success_at if state else None, state.last_error if state else None))
    return out


def peer_valid_until(registrar: str) -> int | None:
    """Until when a registrar's entries are current here: None for this node's own entries, else the
    `valid_until` of the last good checkpoint of the peer with that node id (0 when there is none)."""
    if registrar == runtime.settings()["NODE_ID"]:
        return None
    row = (PeerState.select(PeerState.valid_until).join(Peer).where(Peer.node_id == registrar).first())
    return int(row.valid_until) if row is not None and row.valid_until is not None else 0


def registrar_key(registrar: str) -> tuple[str, str] | None:
    """The pinned (fingerprint, armored public key) of the peer whose node id is `registrar`."""
    row = Peer.select(Peer.fingerprint, Peer.public_key).where(Peer.node_id == registrar).first()
    return (row.fingerprint, row.public_key) if row is not None else None


def mark_source(registrar: str, valid_until: int) -> None:
    """Tell freshness until when a registrar's entries are current (its column drives source_stale)."""
    freshness.set_source_valid_until(registrar, valid_until)


def _scope(countries: str, kinds: str) -> tuple[str, str]:
    country_set = {c.upper() for c in journal.split(countries)}
    kind_set = set(journal.split(kinds))
    bad = sorted(c for c in country_set if not _COUNTRY.match(c))
    if bad:
        raise InvalidInput("countries: ISO 3166-1 alpha-2 codes", {"countries": bad})
    unknown = sorted(kind_set - set(ORGANISATION_KINDS))
    if unknown:
        raise InvalidInput(f"kinds: one of {', '.join(ORGANISATION_KINDS)}", {"kinds": unknown})
    return ",".join(sorted(country_set)), ",".join(sorted(kind_set))
