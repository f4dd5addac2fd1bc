"""OpenPGP and canonical JSON: the only package that imports pgpy.

The rest of the directory calls the small interface re-exported here. The validity policy is ours, not
PGPy's (TRAPS.md 1-8): public keys only, identity by full fingerprint, hash >= SHA-256, signature time
within key and subkey lifetime, verified revocations, signing subkeys bound to this primary with the sign
flag and a back-signature, fail closed on any exception.
"""

from directory.keys.canonical import MAX_BYTES, MAX_DEPTH, CanonicalError, canonical_bytes, parse_canonical
from directory.keys.envelope import (
    SignatureRecord,
    envelope_bytes,
    make_envelope,
    open_envelope,
    verify_envelope,
)
from directory.keys.keyring import UnreadableKey
from directory.keys.node import NodeKey, init_node_key, load_node_key
from directory.keys.policy import (
    KeyInfo,
    SignatureResult,
    inspect_key,
    verify_clearsigned,
    verify_detached,
)
from directory.keys.signature import UnreadableSignature

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "CanonicalError",
    "KeyInfo",
    "NodeKey",
    "SignatureRecord",
    "SignatureResult",
    "UnreadableKey",
    "UnreadableSignature",
    "canonical_bytes",
    "envelope_bytes",
    "init_node_key",
    "inspect_key",
    "load_node_key",
    "make_envelope",
    "open_envelope",
    "parse_canonical",
    "verify_clearsigned",
    "verify_detached",
    "verify_envelope",
]
