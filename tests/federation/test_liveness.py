"""Source liveness (acceptance 3): a peer that stays down keeps its entries until the `valid_until` of its
last good checkpoint, then they show as `source_stale`; when it returns, they are fresh again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from directory import freshness, search
from directory.actors import Actor
from directory.federation import jobs as federation_jobs
from directory.federation import peers
from directory.federation.pull import pull_peer
from directory.models.entries import Organisation
from directory.models.federation import Peer, PeerState
from tests.federation.fakepeer import FakePeer

T0 = 1_900_000_000


def status(entry_id: str) -> str:
    return freshness.row_status(Organisation.get(Organisation.entry_id == entry_id)).status


def found(entry_id: str, **options: bool) -> bool:
    """Is the entry in a default search (source_stale entries are hidden unless asked for)?"""
    results = search.search(search.Query(**options), Actor.anonymous(), per_page=100)
    return entry_id in {item["id"] for item in results.items}


def test_peer_down_past_valid_until_is_source_stale_then_fresh_again(
        fake_peer: FakePeer, pin: Callable[..., Peer], clock: Callable[[float], None]):
    clock(T0)
    fake_peer.validity = 3600
    entry_id = fake_peer.create(emergency_channels=None)  # nothing else due: liveness is the clock
    peer = pin()
    assert pull_peer("peer").ok
    assert peers.peer_valid_until(peer.node_id) == T0 + 3600
    assert peers.peer_valid_until("https://node-a.example") is None  # this node's own entries
    assert status(entry_id) == "fresh"

    port = fake_peer.server.server_address[1]
    fake_peer.stop()
    clock(T0 + 1800)
    down = pull_peer("peer")
    assert not down.ok and "peer request failed" in (down.reason or "")
    assert status(entry_id) == "fresh"  # kept, and still within the last checkpoint's validity
    clock(T0 + 3600)
    assert not pull_peer("peer").ok
    assert Organisation.get(Organisation.entry_id == entry_id).deleted is False  # kept, not dropped
    row = Organisation.get(Organisation.entry_id == entry_id)
    stale = freshness.row_status(row)
    assert stale.status == "source_stale"
    assert any(peer.node_id in reason for reason in stale.reasons)
    assert not found(entry_id) and found(entry_id, include_expired=True)
    assert "peer request failed" in PeerState.get().last_error

    fake_peer.start(port)  # the peer returns, with a newer checkpoint
    clock(T0 + 4000)
    back = pull_peer("peer")
    assert back.ok and back.applied == 0
    assert status(entry_id) == "fresh" and found(entry_id)
    assert peers.peer_valid_until(peer.node_id) == T0 + 4000 + 3600
    assert PeerState.get().last_error is None


def test_the_scheduler_hook_gives_a_pull_job_per_peer(fake_peer: FakePeer, pin: Callable[..., Peer]):
    from directory.jobs import JobFailed

    fake_peer.create()
    pin()
    jobs: dict[str, Any] = {}
    federation_jobs.register_jobs(lambda name, func, interval: jobs.update({name: (func, interval)}))
    func, interval = jobs["federation:peer"]
    assert interval == 15 * 60
    assert func() == "1 applied, journal size 1"
    fake_peer.routes["/federation/v1/checkpoint"] = lambda _q: (200, b"{}")
    with pytest.raises(JobFailed, match="refused: checkpoint: malformed envelope"):
        func()


def test_a_pulled_entry_shows_its_registrar_signature_checked_with_the_pinned_key(
        fake_peer: FakePeer, pin: Callable[..., Peer], client):
    entry_id = fake_peer.create()
    peer = pin()
    assert pull_peer("peer").ok
    shown = client.get(f"/api/v1/organisations/{entry_id}").get_json()
    assert shown["registrar"] == peer.node_id
    assert [(s["role"], s["key_fpr"], s["status"]) for s in shown["signatures"]] == [
        ("registrar", peer.fingerprint, "valid")]
    peers.remove("peer", Actor.system("test"))
    # Unpinned registrar: the signature cannot be checked here any more, and says so.
    from directory import signatures

    signatures._cache.clear()
    again = client.get(f"/api/v1/organisations/{entry_id}").get_json()
    assert [s["status"] for s in again["signatures"]] == ["unknown_key"]
