"""The node key: the OpenPGP key with which this directory node vouches for what it publishes.

Ed25519 because every accepted entry version is signed (PGPy's RSA signing costs 40-140 ms, Ed25519
about 1 ms: TRAPS.md 6). The private key lives in `<instance>/node-key.asc`, created with mode 0600 and
never overwritten: peers pin its fingerprint, so replacing it silently would cut the node off from its
federation. The key has no expiry; rotating it is an explicit, later operation.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from pgpy import PGPUID, PGPKey
from pgpy.constants import (
    CompressionAlgorithm,
    EllipticCurveOID,
    HashAlgorithm,
    KeyFlags,
    PubKeyAlgorithm,
    SymmetricKeyAlgorithm,
)

from directory.errors import ConfigurationError, Conflict
from directory.keys.armor import PRIVATE_KEY, ArmorError, dearmor

NODE_KEY_FILE = "node-key.asc"


class NodeKey:
    """A loaded node key: its public half for peers and a fast detached signer."""

    def __init__(self, private_key: Any) -> None:
        self._key = private_key
        self.fingerprint: str = str(private_key.fingerprint)
        self.public_armored: str = str(private_key.pubkey)

    def sign(self, data: bytes) -> str:
        """An armored detached signature (binary document, SHA-512) over exactly `data`."""
        sig = self._key.sign(bytes(data), hash=HashAlgorithm.SHA512)
        return str(sig)

    def __repr__(self) -> str:  # never the private material
        return f"NodeKey({self.fingerprint})"


def init_node_key(instance_path: str | Path, node_id: str) -> NodeKey:
    """Generate the node key into the instance folder; refuses to replace an existing one."""
    path = Path(instance_path) / NODE_KEY_FILE
    if path.exists():
        raise Conflict(f"a node key already exists at {path}; refusing to overwrite it")
    key = _generate(node_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL closes the race with a concurrent init; the mode applies at creation, so the secret
        # is never readable by others, not even for a moment.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise Conflict(f"a node key already exists at {path}; refusing to overwrite it") from exc
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(str(key))
        handle.flush()
        os.fsync(handle.fileno())
    return NodeKey(key)


def load_node_key(instance_path: str | Path) -> NodeKey | None:
    """The node key from the instance folder, or None when none was generated yet."""
    path = Path(instance_path) / NODE_KEY_FILE
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if stat.S_IMODE(mode) & 0o077:
        raise ConfigurationError(f"{path} is readable by other users; run `chmod 600 {path}`")
    try:
        _, binary = dearmor(path.read_bytes(), {PRIVATE_KEY})
        key, others = PGPKey.from_blob(binary)
    except (ArmorError, ValueError) as exc:
        raise ConfigurationError(f"{path} is not a readable node key: {exc}") from exc
    # PGPy's second return value lists every key in the blob, including the first one.
    several = any(k is not key for k in others.values())
    if several or key.is_public or key.is_protected or key.key_algorithm is not PubKeyAlgorithm.EdDSA:
        raise ConfigurationError(f"{path} must hold one unprotected Ed25519 private key")
    return NodeKey(key)


def _generate(node_id: str) -> Any:
    key = PGPKey.new(PubKeyAlgorithm.EdDSA, EllipticCurveOID.Ed25519)
    uid = PGPUID.new(f"{node_id} directory node")
    key.add_uid(
        uid,
        usage={KeyFlags.Sign, KeyFlags.Certify},
        hashes=[HashAlgorithm.SHA512, HashAlgorithm.SHA256],
        ciphers=[SymmetricKeyAlgorithm.AES256],
        compression=[CompressionAlgorithm.Uncompressed],
        primary=True,
    )
    return key
