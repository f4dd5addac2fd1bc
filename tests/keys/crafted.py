"""Attack material gpg will not produce, crafted from gpg-made keys.

Each builder returns bytes a real attacker could produce: packets appended to or inserted into a genuine
public key blob, or signatures made with PGPy from gpg's own secret keys.
"""

from __future__ import annotations

from pgpy import PGPKey, PGPSignature
from pgpy.constants import HashAlgorithm, KeyFlags, SignatureType

from tests.keys.conftest import (
    DATA,
    TAG_PUBLIC_KEY,
    TAG_PUBLIC_SUBKEY,
    TAG_SIGNATURE,
    TAG_USER_ID,
    Material,
    new_packet,
    split_packets,
)


def _subkey_packets(blob: bytes, fpr: str) -> list[bytes]:
    """A subkey packet and the signature packets that follow it."""
    packets = split_packets(blob)
    start = next(i for i, p in enumerate(packets) if p.tag == TAG_PUBLIC_SUBKEY and p.fingerprint == fpr)
    found = [packets[start].raw]
    for packet in packets[start + 1:]:
        if packet.tag != TAG_SIGNATURE:
            break
        found.append(packet.raw)
    return found


def spliced_subkey(m: Material) -> bytes:
    """Alice's key with Mallory's signing subkey (and Mallory's binding signature) appended."""
    return m.keys["ed_bin"] + b"".join(_subkey_packets(m.keys["mallory_bin"], m.fprs["mallory_sign"]))


def stolen_subkey(m: Material) -> bytes:
    """Mallory's key claiming Alice's signing subkey: a binding by Mallory, but no back-signature
    (only Alice's subkey could make one). Signatures Alice's subkey made would then be "Mallory's"."""
    mallory, _ = PGPKey.from_blob(m.keys["mallory_secret"])
    alice, _ = PGPKey.from_blob(m.keys["ed_bin"])
    subkey = alice.subkeys[m.fprs["ed_sign"][-16:]]
    subkey._parent = mallory  # the binding hashes the primary first: Mallory's
    binding = PGPSignature.new(SignatureType.Subkey_Binding, mallory.key_algorithm, HashAlgorithm.SHA512,
                               mallory.fingerprint.keyid)
    binding._signature.subpackets.addnew("KeyFlags", hashed=True, flags={KeyFlags.Sign})
    binding = mallory._sign(subkey, binding)
    subkey_packet = _subkey_packets(m.keys["ed_bin"], m.fprs["ed_sign"])[0]
    return m.keys["mallory_bin"] + subkey_packet + bytes(binding)


def encryption_subkey_signature(m: Material) -> bytes:
    """A detached signature over DATA by Bob's RSA encryption-only subkey (gpg refuses to make one)."""
    bob, _ = PGPKey.from_blob(m.keys["rsa_secret"])
    subkey = bob.subkeys[m.fprs["rsa_encr"][-16:]]
    sig = PGPSignature.new(SignatureType.BinaryDocument, subkey.key_algorithm, HashAlgorithm.SHA256,
                           subkey.fingerprint.keyid)
    return bytes(subkey._sign(DATA, sig))


def certify_only_primary_signature(m: Material) -> bytes:
    """A signature by a primary key whose self-signature allows certification only."""
    key, _ = PGPKey.from_blob(m.keys["certonly_secret"])
    sig = PGPSignature.new(SignatureType.BinaryDocument, key.key_algorithm, HashAlgorithm.SHA512,
                           key.fingerprint.keyid)
    return bytes(key._sign(DATA, sig))


def key_id_only_signature(m: Material) -> bytes:
    """A good signature by Mallory's primary naming its issuer by 64-bit key ID only (older signers)."""
    key, _ = PGPKey.from_blob(m.keys["mallory_secret"])
    return bytes(key.sign(DATA, hash=HashAlgorithm.SHA512, include_issuer_fingerprint=False))


def foreign_revocation(m: Material) -> bytes:
    """Alice's key carrying a key revocation signature made by Mallory."""
    mallory, _ = PGPKey.from_blob(m.keys["mallory_secret"])
    alice, _ = PGPKey.from_blob(m.keys["ed_bin"])
    revocation = mallory.revoke(alice)
    return _insert_after_primary(m.keys["ed_bin"], bytes(revocation))


def forged_revocation(m: Material) -> bytes:
    """The genuine revocation of the `revoked` key with one signature byte changed, put on the key
    as it was before revocation. PGPy counts a revocation by key ID alone; we must verify it."""
    packets = split_packets(_dearmored(m, "revoked"))
    revocation = next(p for p in packets if p.tag == TAG_SIGNATURE and p.body[1] == 0x20)
    forged = revocation.raw[:-1] + bytes([revocation.raw[-1] ^ 0x01])
    return _insert_after_primary(_dearmored(m, "revoked_before"), forged)


def revocation_with_other_issuer_id(m: Material) -> bytes:
    """Mallory's genuine self-revocation naming its issuer only by the *unhashed* key ID, which is then
    changed (anyone can do that without breaking the signature): it must still revoke."""
    mallory, _ = PGPKey.from_blob(m.keys["mallory_secret"])
    revocation = bytes(mallory.revoke(mallory.pubkey, include_issuer_fingerprint=False))
    keyid = bytes.fromhex(m.fprs["mallory"][-16:])
    assert revocation.count(keyid) == 1  # only in the unhashed Issuer subpacket
    changed = revocation.replace(keyid, bytes.fromhex("0123456789ABCDEF"))
    return _insert_after_primary(m.keys["mallory_bin"], changed)


def uncertified_user_ids(m: Material) -> bytes:
    """Alice's key with two extra user IDs: one bare, one carrying a copy of Alice's real
    self-signature (which certifies a different user ID and so must not verify)."""
    packets = split_packets(m.keys["ed_bin"])
    uid_index = next(i for i, p in enumerate(packets) if p.tag == TAG_USER_ID)
    self_sig = packets[uid_index + 1].raw
    bare = new_packet(TAG_USER_ID, b"Mallory <mallory@example.net>")
    copied = new_packet(TAG_USER_ID, b"Alice Impostor <ceo@example.org>")
    return m.keys["ed_bin"] + bare + copied + self_sig


def two_keys(m: Material) -> bytes:
    return m.keys["ed_bin"] + m.keys["mallory_bin"]


def _insert_after_primary(blob: bytes, packet: bytes) -> bytes:
    packets = split_packets(blob)
    assert packets[0].tag == TAG_PUBLIC_KEY
    return packets[0].raw + packet + b"".join(p.raw for p in packets[1:])


def _dearmored(m: Material, name: str) -> bytes:
    return m.gpg.run("--dearmor", stdin=m.keys[name])
