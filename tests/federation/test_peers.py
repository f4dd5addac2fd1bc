"""Peers: pinned on add, refused when they claim this node's id, removed with their entries kept."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from directory import runtime
from directory.errors import InvalidInput
from directory.federation import node, peers
from directory.federation.pull import pull_peer
from directory.federation.verify import Rejected
from directory.models.entries import Organisation
from directory.models.federation import Peer
from tests.federation.conftest import ADMIN
from tests.federation.fakepeer import FakePeer


def test_add_stores_the_pinned_key_and_the_scope(fake_peer: FakePeer, pin: Callable[..., Peer]):
    peer = pin(countries="de,at", kinds="service_provider")
    assert (peer.node_id, peer.fingerprint) == (fake_peer.node_id, fake_peer.key.fingerprint)
    assert (peer.countries, peer.kinds) == ("AT,DE", "service_provider")
    assert [p.name for p in peers.listing()] == ["peer"]


@pytest.mark.parametrize(("options", "field"), [
    ({"countries": "Germany"}, "countries"), ({"kinds": "bakery"}, "kinds"),
])
def test_add_refuses_a_malformed_scope(fake_peer: FakePeer, options: dict[str, str], field: str):
    with pytest.raises(InvalidInput) as error:
        peers.add("peer", fake_peer.url, fake_peer.key.fingerprint, ADMIN, **options)
    assert field in error.value.errors


def test_add_refuses_plain_http_unless_allowed_on_loopback(fake_peer: FakePeer,
                                                           monkeypatch: pytest.MonkeyPatch):
    from directory.federation.transport import TransportError

    with pytest.raises(TransportError, match="https"):
        peers.add("peer", "http://192.0.2.1:8080", fake_peer.key.fingerprint, ADMIN)
    monkeypatch.setitem(runtime.settings(), "FEDERATION_ALLOW_HTTP", False)
    with pytest.raises(TransportError, match="https"):
        peers.add("peer", fake_peer.url, fake_peer.key.fingerprint, ADMIN)
    assert Peer.select().count() == 0


def test_a_peer_claiming_this_nodes_id_is_refused(fake_peer: FakePeer, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(runtime.settings(), "NODE_ID", fake_peer.node_id)
    with pytest.raises(Rejected, match="claims this node's own id"):
        peers.add("peer", fake_peer.url, fake_peer.key.fingerprint, ADMIN)


@pytest.mark.parametrize("other", ["this node", "another peer"])
def test_a_peer_claiming_the_namespace_of_another_node_is_refused(fake_peer: FakePeer, other: str,
                                                                   monkeypatch: pytest.MonkeyPatch):
    # Entry ids are urn:cpd:<host>:<uuid>: a node id spelled with a trailing slash shares the host,
    # and would let the peer register ids that read as this node's (or the other peer's) own.
    twin = fake_peer.node_id + "/"
    if other == "this node":
        monkeypatch.setitem(runtime.settings(), "NODE_ID", twin)
    else:
        Peer.create(name="first", url=twin, node_id=twin, fingerprint="0" * 40, public_key="",
                    created_at=runtime.now())
    with pytest.raises(Rejected, match="entry ids of"):
        peers.add("peer", fake_peer.url, fake_peer.key.fingerprint, ADMIN)
    assert Peer.select().where(Peer.name == "peer").count() == 0


def test_removed_peer_leaves_its_entries_read_only_and_source_stale(fake_peer: FakePeer,
                                                                    pin: Callable[..., Peer]):
    entry_id = fake_peer.create()
    peer = pin()
    assert pull_peer("peer").ok
    peers.remove("peer", ADMIN)
    assert Peer.select().count() == 0
    row = Organisation.get(Organisation.entry_id == entry_id)
    assert row.registrar == peer.node_id and not row.deleted
    assert row.source_valid_until == 0 and peers.peer_valid_until(peer.node_id) == 0


@pytest.mark.parametrize("keys", [5, "abc", [5], [{"fingerprint": ["x"]}]])
def test_a_descriptor_with_malformed_keys_is_refused_not_a_crash(fake_peer: FakePeer, keys: object):
    doc = {"typ": node.DESCRIPTOR_TYP, "node": fake_peer.node_id, "keys": keys}
    fake_peer.routes["/.well-known/cpd-node"] = lambda _q: (200, node.signed(doc, fake_peer.key,
                                                                              fake_peer.node_id))
    with pytest.raises(Rejected, match="does not present a key with the pinned fingerprint"):
        peers.add("peer", fake_peer.url, fake_peer.key.fingerprint, ADMIN)


def test_a_peer_claiming_a_node_id_other_than_its_origin_is_refused(fake_peer: FakePeer):
    # A node's id is its origin (DESIGN.md): a peer reached at one address must not present itself,
    # and register entries, as another node (here a national point of contact no one pinned).
    doc = {"typ": node.DESCRIPTOR_TYP, "node": "https://national-24-7.example",
           "keys": [{"fingerprint": fake_peer.key.fingerprint, "public_key": fake_peer.key.public_armored}],
           "expires": runtime.now() + 86400}
    fake_peer.routes["/.well-known/cpd-node"] = lambda _q: (200, node.signed(doc, fake_peer.key,
                                                                              fake_peer.node_id))
    with pytest.raises(Rejected, match="is not the origin of"):
        peers.add("peer", fake_peer.url, fake_peer.key.fingerprint, ADMIN)
    assert Peer.select().count() == 0


@pytest.mark.parametrize(("expires", "refusal"), [
    (-1, "descriptor has expired"), (None, "not a node descriptor"), ("2999-01-01", "not a node descriptor"),
])
def test_a_descriptor_past_its_expiry_or_without_one_is_refused(fake_peer: FakePeer, expires: object,
                                                                refusal: str):
    """Signed by the pinned key but old: a copy replayed from the past, which may name a replaced key."""
    doc = {"typ": node.DESCRIPTOR_TYP, "node": fake_peer.node_id,
           "keys": [{"fingerprint": fake_peer.key.fingerprint, "public_key": fake_peer.key.public_armored}]}
    if expires is not None:
        doc["expires"] = runtime.now() + expires if isinstance(expires, int) else expires
    fake_peer.routes["/.well-known/cpd-node"] = lambda _q: (200, node.signed(doc, fake_peer.key,
                                                                              fake_peer.node_id))
    with pytest.raises(Rejected, match=refusal):
        peers.add("peer", fake_peer.url, fake_peer.key.fingerprint, ADMIN)
    assert Peer.select().count() == 0
