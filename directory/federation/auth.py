"""Peer authentication: every federation request is signed with the requesting node's key.

Headers: `CPD-Node` (the requester's node id), `CPD-Timestamp` (epoch seconds), `CPD-Nonce` (random,
unique per request) and `CPD-Signature` (base64 of an armored detached OpenPGP signature over
`cpd-request-v2 \\n AUDIENCE \\n METHOD \\n PATH \\n QUERY \\n TIMESTAMP \\n NONCE`). The server accepts a
request only from a configured peer, verified with the key pinned for it, within +-CLOCK_WINDOW seconds,
and refuses a nonce seen before within the window. AUDIENCE is the node id of the node asked: a peer that
receives this node's signed request cannot replay it to a third node that trusts this node too. No shared
secrets to distribute or rotate: the pinned fingerprints that protect pulls also protect the endpoints.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Mapping

import peewee

from directory import db, runtime
from directory.errors import Forbidden, Unauthenticated
from directory.keys import verify_detached
from directory.models.federation import Peer, PeerNonce

CLOCK_WINDOW = 300
NODE, TIMESTAMP, NONCE, SIGNATURE = "CPD-Node", "CPD-Timestamp", "CPD-Nonce", "CPD-Signature"
HEADERS = (NODE, TIMESTAMP, NONCE, SIGNATURE)
_TIMESTAMP = re.compile(r"[0-9]{1,12}\Z")


def signing_string(audience: str, method: str, path: str, query: str, timestamp: str, nonce: str) -> bytes:
    parts = ["cpd-request-v2", audience, method.upper(), path, query, timestamp, nonce]
    return "\n".join(parts).encode("utf-8")


def sign(audience: str, method: str, path: str, query: str) -> dict[str, str]:
    """Headers that authenticate this node's request to the peer whose node id is `audience`."""
    timestamp, nonce = str(runtime.now()), secrets.token_hex(16)
    signature = runtime.node_key().sign(signing_string(audience, method, path, query, timestamp, nonce))
    return {NODE: str(runtime.settings()["NODE_ID"]), TIMESTAMP: timestamp, NONCE: nonce,
            SIGNATURE: base64.b64encode(signature.encode("ascii")).decode("ascii")}


def authenticate(method: str, path: str, query: str, headers: Mapping[str, str]) -> Peer:
    """The configured peer that signed this request, or Unauthenticated/Forbidden."""
    values = {name: headers.get(name, "") for name in HEADERS}
    if not all(values.values()):
        raise Unauthenticated(f"federation requests must be signed ({NODE}, {TIMESTAMP}, {NONCE}, "
                              f"{SIGNATURE})")
    peer = Peer.get_or_none(Peer.node_id == values[NODE])
    if peer is None:
        raise Forbidden(f"{values[NODE]} is not a peer of this node")
    # ASCII digits only, and few of them: str.isdigit() also admits "²" (which int() refuses) and int()
    # refuses more than 4300 digits; either would be a 500 for anyone who names a peer.
    if not _TIMESTAMP.match(values[TIMESTAMP]) or abs(int(values[TIMESTAMP]) - runtime.now()) > CLOCK_WINDOW:
        raise Unauthenticated(f"request time is outside +-{CLOCK_WINDOW} s of this node's clock")
    if len(values[NONCE]) > 64:
        raise Unauthenticated("nonce too long")
    try:
        signature = base64.b64decode(values[SIGNATURE], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Unauthenticated("request signature is not base64") from exc
    data = signing_string(str(runtime.settings()["NODE_ID"]), method, path, query, values[TIMESTAMP],
                          values[NONCE])
    result = verify_detached(data, signature, [peer.public_key])
    if not result.ok or result.key_fpr != peer.fingerprint:
        raise Unauthenticated(f"request signature does not verify with the key pinned for this peer "
                              f"({result.reason})")
    _remember(peer.node_id, values[NONCE])
    return peer


def _remember(node_id: str, nonce: str) -> None:
    now = runtime.now()
    try:
        with db.write():
            PeerNonce.delete().where(PeerNonce.expires < now).execute()
            PeerNonce.create(node_id=node_id, nonce=nonce, expires=now + 2 * CLOCK_WINDOW)
    except peewee.IntegrityError as exc:
        raise Unauthenticated("this request was already seen (replayed nonce)") from exc
