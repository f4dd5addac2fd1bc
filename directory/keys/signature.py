"""Reading signature blocks: detached signatures and the signature part of clearsigned messages.

A detached signature file may hold several signature packets (`gpg -u A -u B --detach-sign`); each is
returned. Anything else in the block (a literal-data packet, a one-pass header of an inline-signed
message) means this is not a detached signature and is refused rather than half-read.
"""

from __future__ import annotations

from typing import Any

from pgpy import PGPSignature
from pgpy.packet import Packet
from pgpy.packet.packets import SignatureV4

from directory.errors import InvalidInput
from directory.keys.armor import SIGNATURE, ArmorError, dearmor

MAX_SIGNATURE_BYTES = 64 * 1024
MAX_SIGNATURES = 16  # bounds the work an untrusted signature file can cause


class UnreadableSignature(InvalidInput):
    """Not an OpenPGP detached signature or clearsigned message we can read."""

    code = "unreadable_signature"


def read_signatures(signature: str | bytes) -> list[Any]:
    """The v4 signature packets of an armored or binary detached signature, as PGPy objects."""
    raw = signature.encode("utf-8") if isinstance(signature, str) else bytes(signature)
    if len(raw) > MAX_SIGNATURE_BYTES:
        raise UnreadableSignature(f"signature is {len(raw)} bytes; the limit is {MAX_SIGNATURE_BYTES}")
    try:
        _, binary = dearmor(raw, {SIGNATURE})
    except ArmorError as exc:
        raise UnreadableSignature(f"unreadable signature: {exc}") from exc
    data = bytearray(binary)
    found: list[Any] = []
    while data:
        if len(found) == MAX_SIGNATURES:
            raise UnreadableSignature(f"more than {MAX_SIGNATURES} signatures in one block")
        before = len(data)
        try:
            packet = Packet(data)  # consumes one packet from the front of `data`
        except Exception as exc:  # PGPy raises assorted errors on malformed packets
            raise UnreadableSignature(f"unreadable signature packet ({type(exc).__name__})") from exc
        if len(data) >= before:  # guard against a parser that does not advance
            raise UnreadableSignature("unreadable signature packet")
        if not isinstance(packet, SignatureV4):
            raise UnreadableSignature(
                f"expected a version 4 signature packet, found {type(packet).__name__}: "
                "this is not a detached signature")
        sig = PGPSignature()
        sig |= packet
        found.append(sig)
    if not found:
        raise UnreadableSignature("no signature packet")
    return found
