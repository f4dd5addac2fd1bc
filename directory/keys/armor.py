"""ASCII armor (RFC 4880 section 6) decoded by us, not by PGPy.

PGPy's unarmoring only *warns* on a wrong CRC24 and guesses binary versus text with a heuristic; whether a
bad checksum is accepted would then depend on the process's warning filters. Here a corrupt armor is
always an error, binary input is recognised by the OpenPGP packet-tag bit, and PGPy only ever sees the
binary packets.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Collection

PUBLIC_KEY = "PGP PUBLIC KEY BLOCK"
PRIVATE_KEY = "PGP PRIVATE KEY BLOCK"
SIGNATURE = "PGP SIGNATURE"

_BEGIN = re.compile(r"^-----BEGIN (PGP [A-Z0-9 ,/]+)-----$")
_HEADER = re.compile(r"^[A-Za-z0-9-]+: ?.*$")
_CRC24_INIT = 0xB704CE
_CRC24_POLY = 0x1864CFB


class ArmorError(ValueError):
    """The input is neither binary OpenPGP data nor one well-formed armored block."""


def dearmor(data: str | bytes, labels: Collection[str]) -> tuple[str | None, bytes]:
    """Return (armor label or None for binary input, binary packets).

    Text around the armored block is ignored (keys are often pasted from mail), but a second block is
    an error: which of two keys the caller meant would be a guess.
    """
    if isinstance(data, str):
        text = data
    else:
        raw = bytes(data)
        if not raw:
            raise ArmorError("empty input")
        # Every OpenPGP packet header has bit 7 set; armored text never starts with such a byte.
        if raw[0] & 0x80:
            return None, raw
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ArmorError("neither binary OpenPGP data nor ASCII armor") from exc
    lines = [line.rstrip() for line in re.split(r"\r?\n", text)]
    start = next((i for i, line in enumerate(lines) if _BEGIN.match(line)), None)
    if start is None:
        raise ArmorError("no '-----BEGIN PGP ...-----' line: neither binary OpenPGP data nor ASCII armor")
    match = _BEGIN.match(lines[start])
    assert match is not None
    label = match.group(1)
    if label not in labels:
        raise ArmorError(f"expected {' or '.join(sorted(labels))}, found {label}")
    end_line = f"-----END {label}-----"
    try:
        end = lines.index(end_line, start + 1)
    except ValueError as exc:
        raise ArmorError(f"missing '{end_line}' line") from exc
    if any(_BEGIN.match(line) for line in lines[end + 1:]):
        raise ArmorError("more than one armored block; give one per file")
    body_lines = lines[start + 1:end]
    # Armor headers ("Version: ...", "Comment: ...") run up to the first blank line.
    index = 0
    while index < len(body_lines) and _HEADER.match(body_lines[index]):
        index += 1
    if index < len(body_lines) and body_lines[index] == "":
        index += 1
    body_lines = [line for line in body_lines[index:] if line]
    crc: bytes | None = None
    if body_lines and body_lines[-1].startswith("="):
        crc = _b64(body_lines.pop()[1:])
        if len(crc) != 3:
            raise ArmorError("malformed armor checksum")
    binary = _b64("".join(body_lines))
    if not binary:
        raise ArmorError("armored block is empty")
    if crc is not None and int.from_bytes(crc, "big") != crc24(binary):
        raise ArmorError("armor checksum (CRC24) does not match: the block was damaged")
    return label, binary


def _crc24_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= _CRC24_POLY
        table.append(crc & 0xFFFFFF)
    return tuple(table)


_CRC24_TABLE = _crc24_table()


def crc24(data: bytes) -> int:
    """RFC 4880 section 6.1 checksum, table-driven (keys with many certifications are large)."""
    crc = _CRC24_INIT
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFF) ^ _CRC24_TABLE[((crc >> 16) ^ byte) & 0xFF]
    return crc


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ArmorError(f"armored block is not valid base64: {exc}") from exc
