"""This node's identity as peers see it: the signed descriptor and signed checkpoints.

Both are envelopes signed with the node key, built fresh on each request (an Ed25519 signature costs
about a millisecond). The descriptor carries the public key itself, so a peer's administrator can pin
the fingerprint they were given out of band and let `peers add` fetch and check the key.
"""

from __future__ import annotations

import json
from typing import Any

from directory import runtime
from directory.federation import journal
from directory.keys import NodeKey, SignatureRecord, canonical_bytes, envelope_bytes, make_envelope

DESCRIPTOR_TYP = "cpd.node.v1"
CHECKPOINT_TYP = "cpd.checkpoint.v1"
DESCRIPTOR_DAYS = 30
ENDPOINTS = {"checkpoint": "/federation/v1/checkpoint", "changes": "/federation/v1/changes",
             "snapshot": "/federation/v1/snapshot", "entries": "/federation/v1/entries/{entry_id}"}


def signed(doc: dict[str, Any], key: NodeKey, signer: str) -> bytes:
    """Envelope bytes of `doc` signed by `key` (also used by tests that play a peer)."""
    payload = canonical_bytes(doc)
    record = SignatureRecord(signer, key.fingerprint, key.sign(payload))
    return envelope_bytes(make_envelope(payload, [record]))


def descriptor() -> bytes:
    values = runtime.settings()
    key = runtime.node_key()
    countries, kinds = journal.scope()
    now = runtime.now()
    doc = {"typ": DESCRIPTOR_TYP, "node": values["NODE_ID"],
           "keys": [{"fingerprint": key.fingerprint, "public_key": key.public_armored}],
           "scope": {"countries": sorted(countries), "kinds": sorted(kinds)},
           "endpoints": ENDPOINTS, "iat": now, "expires": now + DESCRIPTOR_DAYS * 86400}
    return signed(doc, key, values["NODE_ID"])


def checkpoint_document(node_id: str, session: str, size: int, head: str, iat: int, valid_until: int,
                        counts: dict[str, int]) -> dict[str, Any]:
    return {"typ": CHECKPOINT_TYP, "node": node_id, "session": session, "size": size, "head": head,
            "iat": iat, "valid_until": valid_until, "counts": counts}


def checkpoint() -> bytes:
    """The signed checkpoint of the journal as it is now."""
    values = runtime.settings()
    size, head = journal.state()
    now = runtime.now()
    doc = checkpoint_document(values["NODE_ID"], journal.session(), size, head, now,
                              now + int(values["FEDERATION_CHECKPOINT_SECONDS"]), journal.counts())
    return signed(doc, runtime.node_key(), values["NODE_ID"])


def page_body(items: list[journal.Item], next_after: int | None, extra: dict[str, Any]) -> bytes:
    """A page of envelopes; each envelope is spliced in as its stored bytes, never re-serialised."""
    parts = [b'{"items":[']
    for index, item in enumerate(items):
        head = json.dumps({"entry_id": item.entry_id, "seq": item.seq, "version": item.version},
                          separators=(",", ":"))
        parts.append((b"," if index else b"") + head[:-1].encode() + b',"envelope":' + item.envelope + b"}")
    tail = dict(extra, next=next_after)
    parts.append(b"]," + json.dumps(tail, separators=(",", ":")).encode()[1:])
    return b"".join(parts)
