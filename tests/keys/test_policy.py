"""The signature policy against gpg-made keys and signatures (issue 3, acceptance 1 and 2).

Every rejection asserts the status *and* that the reason names the specific problem: a verdict without
the right reason would let a different bug pass the same test.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from pgpy import PGPKey, PGPSignature

from directory.keys import SignatureResult, inspect_key, verify_detached
from directory.keys.keyring import load_key
from tests.keys import crafted
from tests.keys.conftest import DATA, DAY, T2020, Gpg, Material

pytestmark = pytest.mark.gpg


def verify(m: Material, sig: str | bytes, key: str | bytes, data: bytes = DATA) -> SignatureResult:
    return verify_detached(data, m.sigs[sig] if isinstance(sig, str) else sig,
                           [m.keys[key] if isinstance(key, str) else key])


@pytest.mark.parametrize(("sig", "key", "signer"), [
    ("ed_primary", "ed", "ed"),
    ("ed_primary_bin", "ed_bin", "ed"),  # binary signature, binary key
    ("ed_subkey", "ed", "ed_sign"),
    ("rsa_primary", "rsa", "rsa"),
    ("rsa_primary_bin", "rsa_bin", "rsa"),
    ("rsa_subkey", "rsa_with_subkey", "rsa_sign"),
    ("renewed", "renewed", "renewed"),  # expiry extended by a newer self-signature (TRAPS.md 4)
])
def test_gpg_signatures_verify(material: Material, sig: str, key: str, signer: str) -> None:
    result = verify(material, sig, key)
    assert result.ok, result.reason
    primary = material.fprs[key.removesuffix("_bin").removesuffix("_with_subkey")]
    assert result.key_fpr == primary
    assert result.signing_fpr == material.fprs[signer]
    assert result.hash_algorithm in {"SHA256", "SHA512"}
    assert result.created is not None and abs(result.created - datetime.now(UTC)) < timedelta(hours=1)


@pytest.mark.parametrize(("sig", "key", "status", "reason"), [
    ("revoked", "revoked", "key_revoked", "was revoked"),
    ("subrev", "subrev", "key_revoked", "signing subkey"),
    ("expired", "expired", "key_expired", "expired on 2020-12-31"),
    ("old_subkey", "old", "key_expired", "signing subkey"),
    ("expired", "expired_revoked", "key_revoked", "was revoked"),  # revoked beats expired
    ("ed_sha1", "ed", "invalid", "SHA1, which is too weak"),
    ("rsa_sha1", "rsa", "invalid", "SHA1, which is too weak"),
    ("ed_predates", "ed", "invalid", "before the key was created"),
    ("ed_primary", "rsa", "unknown_key", "not one of the keys given"),
])
def test_gpg_material_rejected(material: Material, sig: str, key: str, status: str, reason: str) -> None:
    result = verify(material, sig, key)
    assert (result.status, result.ok) == (status, False)
    assert reason in result.reason


def test_revoked_key_was_good_before_revocation(material: Material) -> None:
    # The same signature verifies against the key exported before its revocation: the revocation,
    # not the signature, is what the previous test rejects.
    assert verify(material, "revoked", "revoked_before").ok


def test_expired_key_signature_was_good_within_lifetime(material: Material) -> None:
    then = datetime.fromtimestamp(T2020 + 40 * DAY, UTC)
    assert verify_detached(DATA, material.sigs["expired"], [material.keys["expired"]], now=then).ok
    assert verify_detached(DATA, material.sigs["old_subkey"], [material.keys["old"]], now=then).ok


def test_revoked_subkey_names_the_subkey(material: Material) -> None:
    result = verify(material, "subrev", "subrev")
    assert material.fprs["subrev_sign"] in result.reason
    assert result.signing_fpr == material.fprs["subrev_sign"]


def test_modified_byte_in_data_is_invalid(material: Material) -> None:
    changed = bytearray(DATA)
    changed[10] ^= 0x20
    for sig, key in (("ed_primary", "ed"), ("rsa_primary", "rsa"), ("ed_subkey", "ed")):
        result = verify(material, sig, key, data=bytes(changed))
        assert result.status == "invalid"
        assert "does not match the data" in result.reason


def test_spliced_subkey_is_not_bound(material: Material) -> None:
    spliced = crafted.spliced_subkey(material)
    result = verify(material, "mallory_subkey", spliced)
    assert result.status == "invalid"
    assert f"subkey {material.fprs['mallory_sign']} is not bound to this key" in result.reason
    assert result.key_fpr == material.fprs["ed"]


def test_subkey_without_back_signature_is_refused(material: Material) -> None:
    # Mallory binds Alice's signing subkey to his own key to claim her signatures as his.
    stolen = crafted.stolen_subkey(material)
    result = verify(material, "ed_subkey", stolen)
    assert result.status == "invalid"
    assert "no valid back-signature" in result.reason


def test_encryption_only_subkey_cannot_sign(material: Material) -> None:
    sig = crafted.encryption_subkey_signature(material)
    result = verify(material, sig, "rsa")
    assert result.status == "invalid"
    assert "not marked for signing" in result.reason
    assert result.signing_fpr == material.fprs["rsa_encr"]


@pytest.mark.parametrize("builder", [crafted.foreign_revocation, crafted.forged_revocation])
def test_unverified_revocations_are_ignored(material: Material, builder: Callable[[Material], bytes]) -> None:
    key = builder(material)
    sig = "ed_primary" if builder is crafted.foreign_revocation else "revoked"
    assert verify(material, sig, key).ok


def test_pgpy_alone_would_accept_what_we_reject(material: Material) -> None:
    """Guards the tests themselves: the material really exercises PGPy's traps (TRAPS.md 1-2)."""
    cases = [
        (material.keys["revoked"], material.sigs["revoked"]),
        (material.keys["rsa"], material.sigs["rsa_sha1"]),
        (crafted.spliced_subkey(material), material.sigs["mallory_subkey"]),
        (material.keys["rsa"], crafted.encryption_subkey_signature(material)),
    ]
    for key_blob, sig_blob in cases:
        key, _ = PGPKey.from_blob(key_blob)
        assert key.verify(DATA, PGPSignature.from_blob(sig_blob))
        assert not verify_detached(DATA, sig_blob, [key_blob]).ok


def test_certify_only_primary_may_not_sign(material: Material) -> None:
    result = verify(material, crafted.certify_only_primary_signature(material), "certonly")
    assert result.status == "invalid"
    assert "is not marked for signing" in result.reason


def test_key_id_only_signature_is_matched_and_checked_against_the_full_key(material: Material) -> None:
    sig = crafted.key_id_only_signature(material)
    result = verify(material, sig, "mallory")
    assert result.ok and result.key_fpr == material.fprs["mallory"]
    assert verify(material, sig, "ed").status == "unknown_key"


def test_several_signatures_in_one_file(material: Material) -> None:
    both = material.gpg.run("--local-user", f"{material.fprs['ed']}!", "--local-user",
                            f"{material.fprs['rsa']}!", "--armor", "--detach-sign", stdin=DATA)
    assert verify(material, both, "rsa").key_fpr == material.fprs["rsa"]
    assert verify(material, both, "ed").ok
    assert verify(material, both, "mallory").status == "unknown_key"


def test_fail_closed_on_unreadable_input(material: Material) -> None:
    assert verify_detached(DATA, b"not a signature", [material.keys["ed"]]).status == "invalid"
    garbage = verify_detached(DATA, material.sigs["ed_primary"], [b"garbage"])
    assert garbage.status == "unknown_key" and "could not be read" in garbage.reason
    # An unreadable key next to the right one does not spoil the verdict.
    assert verify_detached(DATA, material.sigs["ed_primary"], [b"garbage", material.keys["ed"]]).ok
    assert verify_detached(DATA, material.sigs["ed_primary"], []).status == "unknown_key"
    naive = datetime(2026, 1, 1)  # the point is the missing timezone
    assert verify_detached(DATA, material.sigs["ed_primary"], [material.keys["ed"]], now=naive).status \
        == "invalid"


def test_future_signature_is_invalid(material: Material) -> None:
    yesterday = datetime.now(UTC) - timedelta(days=1)
    result = verify_detached(DATA, material.sigs["ed_primary"], [material.keys["ed"]], now=yesterday)
    assert result.status == "invalid"
    assert "in the future" in result.reason


def test_parsed_keys_are_cached(material: Material) -> None:
    assert load_key(material.keys["ed"]) is load_key(material.keys["ed"])


@pytest.mark.parametrize("what", ["key", "subkey"])
def test_a_revocation_made_with_sha1_still_revokes(gpg_home: Gpg, what: str) -> None:
    """A weak hash makes a signature worthless as evidence *for* a key, but a revocation only switches
    a key off, and gpg honours it: ignoring it kept a revoked key valid here (fail open)."""
    fpr = gpg_home.gen_key(f"Old Revocation <{what}@sha1.example>", "rsa3072", "sign,cert", "2y")
    signer = gpg_home.add_key(fpr, "rsa3072", "sign", "2y") if what == "subkey" else fpr
    sig = gpg_home.detach_sign(signer, DATA)
    select = b"key 1\n" if what == "subkey" else b""
    gpg_home.run("--cert-digest-algo", "SHA1", "--command-fd", "0", "--edit-key", fpr,
                 stdin=select + b"revkey\ny\n0\n\ny\nsave\n")
    key = gpg_home.export(fpr)
    result = verify_detached(DATA, sig, [key])
    assert result.status == "key_revoked", result.reason
    assert ("signing subkey" if what == "subkey" else "was revoked") in result.reason
    if what == "key":
        info = inspect_key(key)
        assert info.revoked and not info.usable_for_signing
