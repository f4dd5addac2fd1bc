"""`inspect_key`: what the policy says about gpg-made keys, compared with what gpg itself lists."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from directory.keys import UnreadableKey, inspect_key
from tests.keys import crafted
from tests.keys.conftest import Material

pytestmark = pytest.mark.gpg


def gpg_listing(m: Material, fpr: str) -> dict[str, list[str]]:
    """gpg's colon listing of one key: record type -> fields of the first such record."""
    listing = m.gpg.run("--with-colons", "--fixed-list-mode", "--list-keys", fpr).decode()
    records: dict[str, list[str]] = {}
    for line in listing.splitlines():
        fields = line.split(":")
        records.setdefault(fields[0], fields)
    return records


# Exports matching the final state of gpg's keyring (later edits change what gpg lists).
@pytest.mark.parametrize(("name", "key"), [
    ("ed", "ed_uid_revoked"), ("rsa", "rsa_with_subkey"), ("revoked", "revoked"),
    ("expired", "expired_revoked"), ("old", "old"), ("renewed", "renewed"), ("subrev", "subrev"),
])
def test_matches_gpg(material: Material, name: str, key: str) -> None:
    info = inspect_key(material.keys[key])
    pub = gpg_listing(material, material.fprs[name])["pub"]
    assert info.fingerprint == material.fprs[name]
    assert info.created == datetime.fromtimestamp(int(pub[5]), UTC)
    # Expiry computed by us from the newest self-signature equals gpg's.
    assert info.expires == (datetime.fromtimestamp(int(pub[6]), UTC) if pub[6] else None)
    assert info.revoked == (pub[1] == "r")
    assert info.usable_for_signing == (pub[1] not in {"r", "e"})


def test_ed25519_key(material: Material) -> None:
    info = inspect_key(material.keys["ed"])
    assert info.algorithm == "EdDSA"
    assert info.user_ids == ["Alice Example <alice@example.org>"]
    assert info.emails == ["alice@example.org"]
    assert info.signing_subkeys == [material.fprs["ed_sign"]]  # not the encryption subkey
    assert (info.usable_for_signing, info.reason, info.revoked) == (True, None, False)
    assert inspect_key(material.keys["ed_bin"]) == info


def test_rsa_key(material: Material) -> None:
    info = inspect_key(material.keys["rsa_with_subkey"])
    assert info.algorithm == "RSA 3072"
    assert info.signing_subkeys == [material.fprs["rsa_sign"]]
    assert info.usable_for_signing


def test_certify_only_primary_signs_through_subkey(material: Material) -> None:
    info = inspect_key(material.keys["certonly"])
    assert info.usable_for_signing
    assert info.signing_subkeys == [material.fprs["certonly_sign"]]


def test_revoked_key(material: Material) -> None:
    info = inspect_key(material.keys["revoked"])
    assert info.revoked and not info.usable_for_signing
    assert info.revocation_reason == "no reason given"
    assert info.reason is not None and "revoked" in info.reason


def test_expired_key(material: Material) -> None:
    info = inspect_key(material.keys["expired"])
    assert info.expires == datetime(2020, 12, 31, tzinfo=UTC)
    assert not info.usable_for_signing and "expired on 2020-12-31" in (info.reason or "")
    assert inspect_key(material.keys["expired"], now=datetime(2020, 6, 1, tzinfo=UTC)).usable_for_signing


def test_revoked_and_expired_subkeys_are_not_listed(material: Material) -> None:
    assert inspect_key(material.keys["subrev"]).signing_subkeys == []
    assert inspect_key(material.keys["old"]).signing_subkeys == []
    assert inspect_key(material.keys["old"], now=datetime(2020, 6, 1, tzinfo=UTC)).signing_subkeys == [
        material.fprs["old_sign"]]


def test_only_self_certified_user_ids(material: Material) -> None:
    # TRAPS.md 3: user IDs without a valid self-signature (bare, or with a copied one) are not the key's.
    info = inspect_key(crafted.uncertified_user_ids(material))
    assert info.user_ids == ["Alice Example <alice@example.org>"]
    assert info.emails == ["alice@example.org"]


def test_revoked_user_id_is_dropped(material: Material) -> None:
    info = inspect_key(material.keys["ed_uid_revoked"])
    assert info.user_ids == ["Alice Example <alice@example.org>"]


def test_spliced_and_stolen_subkeys_are_not_signing_subkeys(material: Material) -> None:
    assert inspect_key(crafted.spliced_subkey(material)).signing_subkeys == [material.fprs["ed_sign"]]
    assert inspect_key(crafted.stolen_subkey(material)).signing_subkeys == [material.fprs["mallory_sign"]]


@pytest.mark.parametrize("builder", [crafted.foreign_revocation, crafted.forged_revocation])
def test_unverified_revocation_does_not_revoke(
    material: Material, builder: Callable[[Material], bytes]
) -> None:
    info = inspect_key(builder(material))
    assert not info.revoked and info.usable_for_signing


def test_revocation_with_changed_issuer_id_still_revokes(material: Material) -> None:
    info = inspect_key(crafted.revocation_with_other_issuer_id(material))
    assert info.revoked and not info.usable_for_signing


def test_private_keys_are_refused(material: Material) -> None:
    armored = material.gpg.run("--armor", "--export-secret-keys", material.fprs["ed"])
    for blob in (material.keys["rsa_secret"], armored):
        with pytest.raises(UnreadableKey, match="public keys only"):
            inspect_key(blob)


@pytest.mark.parametrize("blob", [b"", b"garbage", b"\x99\x00\x05abc", "-----BEGIN PGP SIGNATURE-----\n"])
def test_garbage_is_unreadable(blob: bytes | str) -> None:
    with pytest.raises(UnreadableKey):
        inspect_key(blob)


def test_damaged_armor_is_unreadable(material: Material) -> None:
    text = material.keys["ed"].decode()
    lines = text.splitlines()
    body = next(i for i, line in enumerate(lines) if len(line) == 64)
    lines[body] = lines[body][:10] + ("A" if lines[body][10] != "A" else "B") + lines[body][11:]
    with pytest.raises(UnreadableKey, match="checksum"):
        inspect_key("\n".join(lines))


def test_two_keys_are_refused(material: Material) -> None:
    with pytest.raises(UnreadableKey, match="exactly one key"):
        inspect_key(crafted.two_keys(material))
