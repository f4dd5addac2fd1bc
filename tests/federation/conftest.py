"""Federation fixtures: a peer played by the test (its own key, served on 127.0.0.1), pinned or not."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from directory.actors import Actor
from directory.federation import peers
from directory.keys import NodeKey, init_node_key
from directory.models.federation import Peer
from tests.federation.fakepeer import FakePeer

ADMIN = Actor.system("test")


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    # Peers are test servers on loopback: plain http is allowed there only, and timeouts are short so
    # the slow-peer tests finish in seconds.
    return {**settings, "FEDERATION_ALLOW_HTTP": True, "FEDERATION_CONNECT_TIMEOUT": 2.0,
            "FEDERATION_READ_TIMEOUT": 1.0, "FEDERATION_DEADLINE": 3.0, "FEDERATION_PAGE_SIZE": 4}


def _key(tmp_path_factory: pytest.TempPathFactory, name: str) -> NodeKey:
    folder: Path = tmp_path_factory.mktemp(name)
    return init_node_key(folder, f"https://{name}.example")


@pytest.fixture(scope="session")
def peer_key(tmp_path_factory: pytest.TempPathFactory) -> NodeKey:
    return _key(tmp_path_factory, "peer")


@pytest.fixture(scope="session")
def stranger_key(tmp_path_factory: pytest.TempPathFactory) -> NodeKey:
    """A key nobody pinned."""
    return _key(tmp_path_factory, "stranger")


@pytest.fixture(scope="session")
def org_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[NodeKey, NodeKey]:
    """Two signing keys of an organisation registered at the peer (listed in its entry)."""
    return _key(tmp_path_factory, "org-a"), _key(tmp_path_factory, "org-b")


@pytest.fixture
def fake_peer(app: Any, peer_key: NodeKey) -> Iterator[FakePeer]:
    peer = FakePeer(peer_key).start()
    try:
        yield peer
    finally:
        peer.stop()


@pytest.fixture
def pin(fake_peer: FakePeer) -> Callable[..., Peer]:
    """Add the fake peer as a pinned peer (`pin(countries="DE")`)."""

    def add(**scope: str) -> Peer:
        return peers.add("peer", fake_peer.url, fake_peer.key.fingerprint, ADMIN, **scope)

    return add
