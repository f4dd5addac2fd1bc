"""The journal and the federation endpoints: gapless hash chain written with each version, envelopes
served byte for byte, only to peers whose signed requests verify with their pinned key."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from pgpy import PGPUID, PGPKey
from pgpy.constants import EllipticCurveOID, HashAlgorithm, KeyFlags, PubKeyAlgorithm

from directory import entries, runtime, signatures
from directory.errors import Forbidden, InvalidInput
from directory.federation import auth, journal
from directory.federation.pull import pull_peer
from directory.keys import NodeKey, parse_canonical, verify_envelope
from directory.models.entries import EntryVersion
from directory.models.federation import JournalLeaf, Peer
from tests.conftest import row_counts
from tests.federation.conftest import ADMIN
from tests.federation.fakepeer import FakePeer

REQUESTER = "https://node-b.example"


@pytest.fixture
def requester(app: Any, peer_key: NodeKey) -> NodeKey:
    """A configured peer of this node (node-b) whose key signs the test's requests."""
    Peer.create(name="node-b", url=REQUESTER, node_id=REQUESTER, fingerprint=peer_key.fingerprint,
                public_key=peer_key.public_armored, created_at=runtime.now())
    return peer_key


def signed(key: NodeKey, path: str, query: str = "", *, node: str = REQUESTER, at: int | None = None,
           nonce: str | None = None) -> dict[str, str]:
    timestamp = str(runtime.now() if at is None else at)
    nonce = nonce or hashlib.sha256(f"{path}{query}{timestamp}{id(key)}".encode()).hexdigest()[:32]
    sig = key.sign(auth.signing_string(runtime.settings()["NODE_ID"], "GET", path, query, timestamp, nonce))
    return {auth.NODE: node, auth.TIMESTAMP: timestamp, auth.NONCE: nonce,
            auth.SIGNATURE: base64.b64encode(sig.encode()).decode()}


def get(client: FlaskClient, key: NodeKey, path: str, query: str = "", **kwargs: Any) -> Any:
    return client.get(path + (f"?{query}" if query else ""), headers=signed(key, path, query, **kwargs))


def test_every_version_and_tombstone_gets_the_next_leaf_of_the_chain(make_org: Callable[..., str]):
    first = make_org()
    entries.update(first, {"name": "Renamed Telecom"}, ADMIN)
    entries.delete(first, ADMIN)
    make_org(name="Second Telecom")
    leaves = list(JournalLeaf.select().order_by(JournalLeaf.seq))
    assert [(leaf.seq, leaf.version) for leaf in leaves] == [(1, 1), (2, 2), (3, 3), (4, 1)]
    head = journal.GENESIS
    for leaf in leaves:
        version = EntryVersion.get((EntryVersion.entry_id == leaf.entry_id)
                                   & (EntryVersion.version == leaf.version))
        envelope = journal.envelope_of(version.payload, version.signatures)
        assert leaf.leaf == hashlib.sha256(envelope).hexdigest()
        head = journal.chain(head, leaf.leaf)
        assert leaf.head == head
    assert journal.state() == (4, head)


def test_a_failed_write_leaves_no_leaf(make_org: Callable[..., str], monkeypatch: pytest.MonkeyPatch):
    make_org()
    before = row_counts()
    monkeypatch.setitem(runtime.settings(), "NODE_COUNTRIES", "FR,BE")
    with pytest.raises(Forbidden, match="FR"):
        make_org(name="Outside the node's scope")  # DE, refused inside the write transaction
    assert row_counts() == before


def test_backfill_journals_versions_written_before_the_journal(make_org: Callable[..., str]):
    make_org()
    expected = [(leaf.seq, leaf.leaf, leaf.head) for leaf in JournalLeaf.select().order_by(JournalLeaf.seq)]
    JournalLeaf.delete().execute()
    assert journal.backfill() == 1
    assert [(leaf.seq, leaf.leaf, leaf.head) for leaf in JournalLeaf.select()] == expected


def test_descriptor_is_signed_and_names_key_scope_and_endpoints(client: FlaskClient,
                                                                monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(runtime.settings(), "NODE_COUNTRIES", "DE,AT")
    response = client.get("/.well-known/cpd-node")
    assert response.status_code == 200
    key = runtime.node_key()
    payload, results = verify_envelope(response.data, {key.fingerprint: key.public_armored})
    assert [r.ok for r in results] == [True]
    doc = parse_canonical(payload)
    assert doc["node"] == "https://node-a.example" and doc["keys"][0]["fingerprint"] == key.fingerprint
    assert doc["scope"] == {"countries": ["AT", "DE"], "kinds": []}
    assert doc["endpoints"]["checkpoint"] == "/federation/v1/checkpoint"


def test_checkpoint_is_signed_and_commits_to_the_journal(client: FlaskClient, requester: NodeKey,
                                                         make_org: Callable[..., str]):
    make_org()
    response = get(client, requester, "/federation/v1/checkpoint")
    assert response.status_code == 200
    key = runtime.node_key()
    payload, results = verify_envelope(response.data, {key.fingerprint: key.public_armored})
    assert all(r.ok for r in results)
    doc = parse_canonical(payload)
    size, head = journal.state()
    assert (doc["size"], doc["head"], doc["node"]) == (size, head, "https://node-a.example")
    assert doc["valid_until"] == doc["iat"] + 86400
    assert doc["counts"] == {"entries": 1, "tombstones": 0}


def test_changes_serve_the_stored_envelopes_byte_for_byte(client: FlaskClient, requester: NodeKey,
                                                          make_org: Callable[..., str]):
    ids = [make_org(name=f"Telecom {n}") for n in range(3)]
    response = get(client, requester, "/federation/v1/changes", "after=1&limit=1")
    page = json.loads(response.data)
    assert [i["seq"] for i in page["items"]] == [2] and page["next"] == 2 and page["size"] == 3
    version = EntryVersion.get(EntryVersion.entry_id == ids[1])
    stored = journal.envelope_of(version.payload, version.signatures)
    assert stored in response.data  # spliced in as stored, not re-serialised
    last = json.loads(get(client, requester, "/federation/v1/changes", "after=2&limit=4").data)
    assert [i["seq"] for i in last["items"]] == [3] and last["next"] is None
    capped = json.loads(get(client, requester, "/federation/v1/changes", "after=0&limit=2").data)
    assert len(capped["items"]) == 2 and capped["next"] == 2


def test_a_page_larger_than_served_is_capped_not_refused(client: FlaskClient, requester: NodeKey,
                                                         make_org: Callable[..., str]):
    for n in range(5):
        make_org(name=f"Telecom {n}")
    page = json.loads(get(client, requester, "/federation/v1/changes", "after=0&limit=1000").data)
    assert [i["seq"] for i in page["items"]] == [1, 2, 3, 4] and page["next"] == 4  # FEDERATION_PAGE_SIZE


def test_snapshot_pages_live_entries_only(client: FlaskClient, requester: NodeKey,
                                          make_org: Callable[..., str]):
    gone, kept = make_org(name="Gone Telecom"), make_org(name="Kept Telecom")
    entries.delete(gone, ADMIN)
    page = json.loads(get(client, requester, "/federation/v1/snapshot").data)
    assert [i["entry_id"] for i in page["items"]] == [kept]


def test_entry_has_an_etag_and_a_deleted_one_is_410_with_its_tombstone(
        client: FlaskClient, requester: NodeKey, make_org: Callable[..., str]):
    entry_id = make_org()
    path = f"/federation/v1/entries/{entry_id}"
    response = get(client, requester, path)
    assert response.status_code == 200
    tag = response.headers["ETag"]
    again = client.get(path, headers={**signed(requester, path, nonce="n2"), "If-None-Match": tag})
    assert again.status_code == 304
    entries.delete(entry_id, ADMIN)
    deleted = get(client, requester, path, nonce="n3")
    assert deleted.status_code == 410
    assert parse_canonical(base64.urlsafe_b64decode(json.loads(deleted.data)["payload"] + "=="))["typ"] == \
        "cpd.tombstone.v1"
    assert get(client, requester, "/federation/v1/entries/urn:cpd:elsewhere:1").status_code == 404


@pytest.mark.parametrize(("case", "status", "message"), [
    ("unsigned", 401, "federation requests must be signed"),
    ("unknown node", 403, "is not a peer of this node"),
    ("unpinned key", 401, "does not verify with the key pinned"),
    ("old timestamp", 401, "outside +-300 s"),
    ("digit that int() refuses", 401, "outside +-300 s"),  # "²".isdigit(): was a 500
    ("5000-digit timestamp", 401, "outside +-300 s"),  # over int()'s digit limit: was a 500
    ("other query", 401, "does not verify with the key pinned"),
    ("replayed nonce", 401, "already seen"),
])
def test_federation_endpoints_refuse_unauthenticated_peers(client: FlaskClient, requester: NodeKey,
                                                           stranger_key: NodeKey, case: str, status: int,
                                                           message: str):
    path = "/federation/v1/changes"
    headers = {
        "unsigned": {},
        "unknown node": signed(requester, path, node="https://node-x.example"),
        "unpinned key": signed(stranger_key, path),
        "old timestamp": signed(requester, path, at=runtime.now() - 301),
        "digit that int() refuses": {**signed(requester, path), auth.TIMESTAMP: "\u00b2"},
        "5000-digit timestamp": {**signed(requester, path), auth.TIMESTAMP: "1" * 5000},
        "other query": signed(requester, path, "after=5"),
        "replayed nonce": signed(requester, path, nonce="same"),
    }[case]
    if case == "replayed nonce":
        assert client.get(path, headers=headers).status_code == 200
    response = client.get(path, headers=headers)
    assert response.status_code == status
    body = response.get_json()
    assert body["code"] == status and message in body["message"]


def test_a_request_signed_for_another_node_is_refused(client: FlaskClient, fake_peer: FakePeer,
                                                      pin: Callable[..., Peer],
                                                      monkeypatch: pytest.MonkeyPatch):
    """A peer that receives this node's signed pull must not be able to replay it, within the clock
    window, to a third node that also trusts this node, and read that node's journal as this node."""
    pin()
    assert pull_peer("peer").ok
    sent = next(h for h, path in zip(fake_peer.headers, fake_peer.requests, strict=True)
                if path == "/federation/v1/checkpoint")
    # The app now plays the third node, node-c, one of whose peers is this node (node-a).
    own = runtime.node_key()
    Peer.create(name="node-a", url="https://node-a.example", node_id="https://node-a.example",
                fingerprint=own.fingerprint, public_key=own.public_armored, created_at=runtime.now())
    monkeypatch.setitem(runtime.settings(), "NODE_ID", "https://node-c.example")
    response = client.get("/federation/v1/checkpoint", headers={name: sent[name] for name in auth.HEADERS})
    assert response.status_code == 401
    assert "does not verify" in response.get_json()["message"]


def test_the_organisations_own_signature_journals_the_version_again(make_org: Callable[..., str],
                                                                     peer_key: NodeKey):
    """Attaching the organisation's signature to a version appends a leaf for that version with the
    longer list, so peers receive it; the earlier leaves are still served as they were journaled, or
    they no longer chain to the checkpoint head and every peer refuses this node's journal as rewritten."""
    entry_id = make_org(keys=[{"public_key": peer_key.public_armored, "use": "organisation"}])
    second = make_org(name="Second Telecom")
    payload = EntryVersion.get(EntryVersion.entry_id == entry_id).payload
    signatures.attach(entry_id, 1, peer_key.sign(bytes(payload)), ADMIN)
    items = journal.changes(0, 10)
    assert [(i.seq, i.entry_id, i.version) for i in items] == [(1, entry_id, 1), (2, second, 1),
                                                               (3, entry_id, 1)]
    assert [len(json.loads(i.envelope)["signatures"]) for i in items] == [1, 1, 2]
    head = journal.GENESIS
    for item in items:
        head = journal.chain(head, journal.leaf_of(item.envelope))
    assert (3, head) == journal.state()
    stored = EntryVersion.get(EntryVersion.entry_id == entry_id)
    assert items[2].envelope == journal.envelope_of(stored.payload, stored.signatures)
    # A snapshot serves each live entry once, as it is now.
    assert [(i.seq, i.envelope) for i in journal.snapshot(0, 10)] == [(2, items[1].envelope),
                                                                      (3, items[2].envelope)]


def test_the_organisations_signature_dated_before_the_version_was_issued_is_refused(
        make_org: Callable[..., str]):
    """Peers accept a signature whose key expired since it was made only when it is dated no earlier than
    the version (the date is the signer's choice): one dated before would be refused by every peer that
    pulls the version after the key expired, as an attack, for good. Refused here at once instead."""
    made = datetime.now(UTC) - timedelta(seconds=5000)
    key = PGPKey.new(PubKeyAlgorithm.EdDSA, EllipticCurveOID.Ed25519, created=made)
    key.add_uid(PGPUID.new("Example Telecom key"), usage={KeyFlags.Sign, KeyFlags.Certify},
                hashes=[HashAlgorithm.SHA512], created=made)
    org = NodeKey(key)
    entry_id = make_org(keys=[{"public_key": org.public_armored, "use": "organisation"}])
    version = EntryVersion.get(EntryVersion.entry_id == entry_id)
    iat = datetime.fromtimestamp(parse_canonical(bytes(version.payload))["iat"], UTC)
    backdated = str(key.sign(bytes(version.payload), hash=HashAlgorithm.SHA512,
                             created=iat - timedelta(hours=1)))
    before = (row_counts(), version.signatures)

    with pytest.raises(InvalidInput, match="dated before"):
        signatures.attach(entry_id, 1, backdated, ADMIN)

    assert before == (row_counts(), EntryVersion.get(EntryVersion.entry_id == entry_id).signatures)


def test_an_entrys_etag_changes_when_its_organisation_signs_it(client: FlaskClient, requester: NodeKey,
                                                               make_org: Callable[..., str],
                                                               peer_key: NodeKey):
    entry_id = make_org(keys=[{"public_key": peer_key.public_armored, "use": "organisation"}])
    path = f"/federation/v1/entries/{entry_id}"
    tag = get(client, requester, path).headers["ETag"]
    payload = EntryVersion.get(EntryVersion.entry_id == entry_id).payload
    signatures.attach(entry_id, 1, peer_key.sign(bytes(payload)), ADMIN)
    again = client.get(path, headers={**signed(requester, path, nonce="n2"), "If-None-Match": tag})
    assert again.status_code == 200 and len(json.loads(again.data)["signatures"]) == 2


def test_a_page_position_beyond_any_database_integer_is_refused(client: FlaskClient, requester: NodeKey):
    # SQLite raised OverflowError binding it (a 500 on the peer's every retry).
    for path in ("/federation/v1/changes", "/federation/v1/snapshot"):
        assert get(client, requester, path, "after=" + "9" * 30).status_code == 422
