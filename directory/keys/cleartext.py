"""Clearsigned messages (RFC 4880 section 7), split by us the way GnuPG reads them.

PGPy rejects clearsigned text that GnuPG accepts (trailing whitespace, CRLF line ends: TRAPS.md 5), so
the framework is parsed here and only the signature packets go to PGPy. What is signed follows the RFC
and GnuPG: dash-escapes removed, trailing spaces and tabs stripped from every line, lines joined with
CRLF, and the line break before the signature block not included.

Text outside the signed part is refused, not ignored: a reader shown "valid" next to a message must
not be looking at words the signer never signed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from directory.keys.signature import MAX_SIGNATURE_BYTES, UnreadableSignature

BEGIN_MESSAGE = "-----BEGIN PGP SIGNED MESSAGE-----"
BEGIN_SIGNATURE = "-----BEGIN PGP SIGNATURE-----"
END_SIGNATURE = "-----END PGP SIGNATURE-----"
MAX_MESSAGE_BYTES = 1024 * 1024

# Names in the "Hash:" armor header, as GnuPG writes them.
HASH_HEADER_NAMES = {
    "MD5": "MD5", "SHA1": "SHA1", "RIPEMD160": "RIPEMD160", "SHA224": "SHA224",
    "SHA256": "SHA256", "SHA384": "SHA384", "SHA512": "SHA512",
}


@dataclass(frozen=True)
class Clearsigned:
    text: str  # the signed text, lines joined with "\n", as it was signed (trailing blanks removed)
    signed_bytes: bytes  # what the signature covers
    hashes: tuple[str, ...]  # from the "Hash:" header; empty when absent
    signature: str  # the armored signature block


def parse_clearsigned(message: str | bytes) -> Clearsigned:
    if isinstance(message, bytes | bytearray):
        if len(message) > MAX_MESSAGE_BYTES:
            raise UnreadableSignature(f"message is {len(message)} bytes; the limit is {MAX_MESSAGE_BYTES}")
        try:
            message = bytes(message).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnreadableSignature("clearsigned message is not UTF-8 text") from exc
    elif len(message) > MAX_MESSAGE_BYTES:
        raise UnreadableSignature(f"message is {len(message)} characters; the limit is {MAX_MESSAGE_BYTES}")
    lines = re.split(r"\r?\n", message)
    index = _skip_blank(lines, 0)
    if index == len(lines) or lines[index].rstrip() != BEGIN_MESSAGE:
        raise UnreadableSignature(
            "not a clearsigned message: it must start with '-----BEGIN PGP SIGNED MESSAGE-----' "
            "(text before it would not be covered by the signature)")
    index += 1
    hashes: list[str] = []
    while index < len(lines) and lines[index].strip():
        name, _, value = lines[index].partition(": ")
        if name != "Hash" or not value:
            raise UnreadableSignature(f"unexpected armor header in clearsigned message: {lines[index]!r}")
        hashes += [h.strip().upper() for h in value.split(",")]
        index += 1
    if index == len(lines):
        raise UnreadableSignature("clearsigned message ends before its text")
    index += 1  # the blank line after the headers
    text_lines: list[str] = []
    while index < len(lines) and lines[index].rstrip() != BEGIN_SIGNATURE:
        line = lines[index]
        if line.startswith("- "):
            line = line[2:]
        # RFC 4880 7.1: trailing spaces and tabs are not part of the signed text (GnuPG also
        # drops a stray CR, which the split above leaves only in "\r\r\n" line ends).
        text_lines.append(line.rstrip(" \t\r"))
        index += 1
    if index == len(lines):
        raise UnreadableSignature("clearsigned message has no '-----BEGIN PGP SIGNATURE-----' block")
    sig_start = index
    while index < len(lines) and lines[index].rstrip() != END_SIGNATURE:
        index += 1
    if index == len(lines):
        raise UnreadableSignature("clearsigned message has no '-----END PGP SIGNATURE-----' line")
    if _skip_blank(lines, index + 1) != len(lines):
        raise UnreadableSignature("text after the signature block is not covered by the signature")
    signature = "\n".join(lines[sig_start:index + 1]) + "\n"
    if len(signature) > MAX_SIGNATURE_BYTES:
        raise UnreadableSignature("signature block is too large")
    for name in hashes:
        if name not in HASH_HEADER_NAMES:
            raise UnreadableSignature(f"unknown hash algorithm {name!r} in the Hash: header")
    return Clearsigned(
        text="\n".join(text_lines),
        signed_bytes="\r\n".join(text_lines).encode("utf-8"),
        hashes=tuple(hashes),
        signature=signature,
    )


def _skip_blank(lines: list[str], index: int) -> int:
    while index < len(lines) and not lines[index].strip():
        index += 1
    return index
