"""The node key: storage rules, and signatures that GnuPG accepts (issue 3, acceptance 1)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pgpy import PGPSignature

from directory.errors import ConfigurationError, Conflict
from directory.keys import NodeKey, init_node_key, inspect_key, load_node_key, verify_detached
from tests.keys.conftest import Material


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> NodeKey:
    return init_node_key(tmp_path_factory.mktemp("instance"), "https://node-a.example")


def test_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    instance = tmp_path / "instance"  # created on demand
    key = init_node_key(instance, "https://node-b.example")
    path = instance / "node-key.asc"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("-----BEGIN PGP PRIVATE KEY BLOCK-----")
    before = path.read_bytes()
    with pytest.raises(Conflict, match="refusing to overwrite"):
        init_node_key(instance, "https://node-b.example")
    assert path.read_bytes() == before
    loaded = load_node_key(instance)
    assert loaded is not None and loaded.fingerprint == key.fingerprint
    assert loaded.public_armored == key.public_armored


def test_missing_key_loads_as_none(tmp_path: Path) -> None:
    assert load_node_key(tmp_path) is None


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    init_node_key(tmp_path, "https://node-c.example")
    os.chmod(tmp_path / "node-key.asc", 0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        load_node_key(tmp_path)


def test_public_key_passes_our_policy(node: NodeKey) -> None:
    info = inspect_key(node.public_armored)
    assert info.fingerprint == node.fingerprint and len(node.fingerprint) == 40
    assert info.algorithm == "EdDSA"
    assert info.user_ids == ["https://node-a.example directory node"]
    assert info.usable_for_signing and info.expires is None
    assert "PRIVATE" not in node.public_armored and "PRIVATE" not in repr(node)


def test_signatures_verify_here(node: NodeKey) -> None:
    result = verify_detached(b"payload", node.sign(b"payload"), [node.public_armored])
    assert result.ok and result.hash_algorithm == "SHA512" and result.key_fpr == node.fingerprint
    assert verify_detached(b"payloaD", node.sign(b"payload"), [node.public_armored]).status == "invalid"


@pytest.mark.gpg
def test_signatures_verify_with_gpg(node: NodeKey, material: Material, tmp_path: Path) -> None:
    material.gpg.import_(node.public_armored.encode())
    # Ed25519 signatures whose r or s has a leading zero byte are encoded as shorter MPIs; an encoder
    # that gets this wrong fails in GnuPG about once in 128 signatures. Test one of those explicitly.
    payloads = [b"{}", b"\x00\xff binary \r\n"]
    for i in range(5000):
        payload = f"payload {i}".encode()
        mpis = PGPSignature.from_blob(node.sign(payload))._signature.signature
        if min(mpis.r.bit_length(), mpis.s.bit_length()) <= 248:
            payloads.append(payload)
            break
    assert len(payloads) == 3, "no short-MPI signature found"
    for index, payload in enumerate(payloads):
        data, sig = tmp_path / f"data{index}", tmp_path / f"data{index}.asc"
        data.write_bytes(payload)
        sig.write_text(node.sign(payload))
        code, status = material.gpg.verify(sig, data)
        assert code == 0, status
        assert f"[GNUPG:] VALIDSIG {node.fingerprint}" in status
