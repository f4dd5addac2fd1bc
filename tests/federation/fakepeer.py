"""A peer node played by the test: its own key and journal, built with the real node's code, served over
HTTP on 127.0.0.1 by a stdlib server thread. Routes can be overridden to serve crafted answers."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from directory import contacts, documents, runtime
from directory.federation import journal, node
from directory.keys import (
    NodeKey,
    SignatureRecord,
    canonical_bytes,
    envelope_bytes,
    make_envelope,
    open_envelope,
    parse_canonical,
)
from tests import factories

Route = Callable[[dict[str, str]], tuple[int, bytes]]


@dataclass
class Leaf:
    seq: int
    entry_id: str
    version: int
    envelope: bytes


@dataclass
class FakePeer:
    key: NodeKey
    leaves: list[Leaf] = field(default_factory=list)
    current: dict[str, dict[str, Any]] = field(default_factory=dict)
    routes: dict[str, Route] = field(default_factory=dict)
    validity: int = 3600
    requests: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)  # of each request, in order
    trickle: set[str] = field(default_factory=set)  # paths answered one byte at a time, forever

    def start(self, port: int = 0) -> FakePeer:
        """Serve on `port` (0: a free one; the same port again to bring a stopped peer back)."""
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.server.daemon_threads = True
        self.server.peer = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def node_id(self) -> str:
        return self.url

    # --- the peer's registrations -------------------------------------------------------------

    def create(self, *, org_keys: Sequence[NodeKey] = (), **overrides: Any) -> str:
        """A new entry; `org_keys` are listed in it as the organisation's own signing keys."""
        now = runtime.now()
        fields = {k: v for k, v in documents.load(factories.organisation(**overrides)).items()
                  if v is not None}
        fields["contacts"] = contacts.merge([], fields.get("contacts", []), None, now)
        if org_keys:
            fields["keys"] = [{"fingerprint": k.fingerprint, "public_key": k.public_armored.strip() + "\n",
                               "use": "organisation"} for k in org_keys]
        entry_id = f"urn:cpd:127.0.0.1:{self.server.server_address[1]}:{uuid.uuid4()}"
        doc = {"typ": documents.TYP, "entry_id": entry_id, "registrar": self.node_id, "version": 1,
               "prev": None, "iat": now, "confirmed_at": now, "not_after": now + 300 * 86400, **fields}
        self.publish(doc)
        return entry_id

    def update(self, entry_id: str, **changes: Any) -> dict[str, Any]:
        old = self.current[entry_id]
        doc = {**old, **changes, "version": old["version"] + 1, "prev": _digest(old), "iat": runtime.now()}
        self.publish(doc)
        return doc

    def delete(self, entry_id: str) -> None:
        old = self.current[entry_id]
        self.publish({"typ": documents.TOMBSTONE_TYP, "entry_id": entry_id, "registrar": self.node_id,
                      "version": old["version"] + 1, "prev": _digest(old), "iat": runtime.now()})

    def publish(self, doc: dict[str, Any], key: NodeKey | None = None) -> Leaf:
        """Append a signed envelope of `doc` to the journal (any doc: tests craft bad ones too)."""
        envelope = node.signed(doc, key or self.key, self.node_id)
        leaf = Leaf(len(self.leaves) + 1, doc["entry_id"], doc["version"], envelope)
        self.leaves.append(leaf)
        self.current[doc["entry_id"]] = doc
        return leaf

    def signed_version(self, entry_id: str,
                       version: int | None = None) -> tuple[bytes, list[SignatureRecord]]:
        """Payload and signatures of a version as its latest leaf carries them (default: the current one)."""
        version = self.current[entry_id]["version"] if version is None else version
        leaf = [x for x in self.leaves if (x.entry_id, x.version) == (entry_id, version)][-1]
        return open_envelope(leaf.envelope)

    def journal_again(self, entry_id: str, version: int, payload: bytes,
                      records: Sequence[SignatureRecord]) -> Leaf:
        """Append a leaf for a version already journaled (tests craft bad ones too)."""
        envelope = envelope_bytes(make_envelope(payload, list(records)))
        leaf = Leaf(len(self.leaves) + 1, entry_id, version, envelope)
        self.leaves.append(leaf)
        return leaf

    def attach(self, entry_id: str, key: NodeKey, version: int | None = None) -> Leaf:
        """What `signatures.attach` makes a real node do: the organisation's signature is added to a
        version, which is journaled again with the longer list."""
        version = self.current[entry_id]["version"] if version is None else version
        payload, records = self.signed_version(entry_id, version)
        return self.journal_again(entry_id, version, payload,
                                  [*records, SignatureRecord(entry_id, key.fingerprint, key.sign(payload))])

    # --- what it serves --------------------------------------------------------------------------

    def head(self, size: int | None = None) -> str:
        head = journal.GENESIS
        for leaf in self.leaves[:size]:
            head = journal.chain(head, journal.leaf_of(leaf.envelope))
        return head

    def checkpoint(self, *, key: NodeKey | None = None, iat: int | None = None,
                   size: int | None = None) -> bytes:
        size = len(self.leaves) if size is None else size
        iat = runtime.now() if iat is None else iat
        session = journal.leaf_of(self.leaves[0].envelope) if self.leaves else journal.GENESIS
        doc = node.checkpoint_document(self.node_id, session, size, self.head(size), iat, iat + self.validity,
                                       {"entries": len(self.current), "tombstones": 0})
        return node.signed(doc, key or self.key, self.node_id)

    def changes(self, after: int, limit: int) -> bytes:
        items = [journal.Item(leaf.seq, leaf.entry_id, leaf.version, leaf.envelope)
                 for leaf in self.leaves[after:after + limit]]
        return node.page_body(items, None, {"size": len(self.leaves)})

    def descriptor(self) -> bytes:
        doc = {"typ": node.DESCRIPTOR_TYP, "node": self.node_id,
               "keys": [{"fingerprint": self.key.fingerprint, "public_key": self.key.public_armored}],
               "scope": {"countries": [], "kinds": []}, "endpoints": node.ENDPOINTS,
               "iat": runtime.now(), "expires": runtime.now() + 86400}
        return node.signed(doc, self.key, self.node_id)

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, bytes]:
        if path in self.routes:
            return self.routes[path](query)
        if path == "/.well-known/cpd-node":
            return 200, self.descriptor()
        if path == "/federation/v1/checkpoint":
            return 200, self.checkpoint()
        if path == "/federation/v1/changes":
            return 200, self.changes(int(query.get("after", 0)), int(query.get("limit", 500)))
        return 404, b'{"message":"not found"}'


def _digest(doc: dict[str, Any]) -> str:
    payload = canonical_bytes(doc)
    assert parse_canonical(payload) == doc
    return hashlib.sha256(payload).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        peer: FakePeer = self.server.peer  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        peer.requests.append(parts.path)
        peer.headers.append(dict(self.headers.items()))
        if parts.path in peer.trickle:
            self._trickle()
            return
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        status, body = peer.answer(parts.path, query)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _trickle(self) -> None:
        """Headers at once, then a byte every 0.2 s: each read succeeds, the answer never ends."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        try:
            for _ in range(100_000):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            return  # the client gave up, as it must

    def log_message(self, format: str, *args: Any) -> None:
        pass


def slow_forever(_query: dict[str, str]) -> tuple[int, bytes]:
    """A peer that never finishes answering (the server thread is a daemon; the client must give up)."""
    time.sleep(3600)
    return 200, b""
