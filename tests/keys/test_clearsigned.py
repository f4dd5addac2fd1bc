"""Clearsigned messages made by gpg, with gpg as the oracle for what a mutation does (TRAPS.md 5)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from directory.keys import verify_clearsigned
from tests.keys.conftest import Material

pytestmark = pytest.mark.gpg

TEXT = "Dear colleague,\n\tplease preserve the data.\n- a dashed line\n-----BEGIN tricky\n\nEnd"


def gpg_says_good(m: Material, message: bytes, tmp_path: Path) -> bool:
    path = tmp_path / "message.asc"
    path.write_bytes(message)
    code, status = m.gpg.verify(path)
    return code == 0 and "[GNUPG:] GOODSIG" in status


@pytest.mark.parametrize(("name", "key", "signer"), [
    ("clear_ed", "ed", "ed"),  # trailing blanks and a dash-escaped line
    ("clear_rsa", "rsa", "rsa"),  # the same text with CRLF line ends
    ("clear_subkey", "ed", "ed_sign"),
])
def test_gpg_clearsigned_verifies(material: Material, name: str, key: str, signer: str) -> None:
    result, text = verify_clearsigned(material.sigs[name], [material.keys[key]])
    assert result.ok, result.reason
    assert result.signing_fpr == material.fprs[signer]
    if name != "clear_subkey":
        assert text == TEXT  # trailing blanks are not part of what was signed
    assert verify_clearsigned(material.sigs[name].decode(), [material.keys[key]])[0].ok


@pytest.mark.parametrize(("mutation", "expect_good"), [
    (lambda m: m.replace(b"\n", b"\r\n"), True),  # a mail system converting line ends
    (lambda m: m.replace(b"preserve the data.", b"preserve the data.  \t"), True),  # trailing blanks
    (lambda m: m.replace(b"preserve", b"delete"), False),
    (lambda m: re.sub(rb"Hash: \w+", b"Hash: SHA384", m), False),  # header contradicts signature
])
def test_agrees_with_gpg_on_mutations(
    material: Material, tmp_path: Path, mutation: Callable[[bytes], bytes], expect_good: bool
) -> None:
    message = mutation(material.sigs["clear_ed"])
    assert message != material.sigs["clear_ed"]
    assert gpg_says_good(material, message, tmp_path) is expect_good
    result, _ = verify_clearsigned(message, [material.keys["ed"]])
    assert result.ok is expect_good, result.reason


def test_sha1_clearsigned_is_invalid(material: Material) -> None:
    result, text = verify_clearsigned(material.sigs["clear_sha1"], [material.keys["rsa"]])
    assert result.status == "invalid" and "SHA1" in result.reason
    assert text == "old hash"


@pytest.mark.parametrize("mutation", [
    lambda m: b"Please wire the money.\n" + m,
    lambda m: m + b"P.S. also the passwords.\n",
])
def test_text_outside_the_signed_part_is_refused(
    material: Material, mutation: Callable[[bytes], bytes]
) -> None:
    result, _ = verify_clearsigned(mutation(material.sigs["clear_ed"]), [material.keys["ed"]])
    assert result.status == "invalid"
    assert "not covered by the signature" in result.reason or "must start with" in result.reason


def test_detached_signature_is_not_a_clearsigned_message(material: Material) -> None:
    result, text = verify_clearsigned(material.sigs["ed_primary"], [material.keys["ed"]])
    assert result.status == "invalid" and text == ""


def test_detached_binary_signature_cannot_pose_as_text_signature(material: Material) -> None:
    message = material.sigs["clear_ed"]
    start = message.index(b"-----BEGIN PGP SIGNATURE-----")
    swapped = message[:start] + material.sigs["ed_primary"]
    result, _ = verify_clearsigned(swapped, [material.keys["ed"]])
    assert result.status == "invalid"
    assert "not a text signature" in result.reason


def test_unknown_signer(material: Material) -> None:
    result, _ = verify_clearsigned(material.sigs["clear_ed"], [material.keys["rsa"]])
    assert result.status == "unknown_key"
