"""Signed envelopes: `{"payload": <base64url of canonical bytes>, "signatures": [...]}`.

The payload travels as base64 of the exact signed bytes so that no JSON tool on the way can re-serialise
what was signed. Verification order matters (DESIGN.md): the signatures are checked over the bytes
first, and only then are the bytes parsed and required to be canonical. A payload that is validly signed
but not canonical is still refused: two parsers could read it differently.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from directory.keys.canonical import CanonicalError, canonical_bytes, load_strict, parse_canonical
from directory.keys.policy import SignatureResult, verify_detached

# A full-size payload in base64 (4/3 of 64 KiB) plus its signatures: the HTTP body limit (256 KiB).
ENVELOPE_MAX_BYTES = 256 * 1024
MAX_ENVELOPE_SIGNATURES = 8
_FIELDS = {"payload", "signatures"}
_SIGNATURE_FIELDS = {"signer", "key_fpr", "sig"}
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_FINGERPRINT = re.compile(r"^[0-9A-F]{40}$")


@dataclass(frozen=True)
class SignatureRecord:
    signer: str  # who vouches: a node id or an organisation; a label, the key decides
    key_fpr: str  # full primary fingerprint of the signing key, upper-case hex
    sig: str  # armored detached OpenPGP signature over the payload bytes


def make_envelope(payload: bytes, signatures: list[SignatureRecord]) -> dict[str, Any]:
    """Wrap exact payload bytes and their signatures; nothing is re-serialised."""
    env = {
        "payload": b64url_encode(bytes(payload)),
        "signatures": [{"signer": s.signer, "key_fpr": s.key_fpr, "sig": s.sig} for s in signatures],
    }
    _check_shape(env)
    return env


def envelope_bytes(env: Mapping[str, Any]) -> bytes:
    """The canonical JSON of an envelope: what is stored and served byte for byte."""
    _check_shape(env)
    return canonical_bytes(dict(env), max_bytes=ENVELOPE_MAX_BYTES)


def open_envelope(data: bytes | Mapping[str, Any]) -> tuple[bytes, list[SignatureRecord]]:
    """Check an envelope's shape strictly and return the exact payload bytes and signature records.

    Nothing here is verified; call `verify_envelope` before trusting the payload.
    """
    env = load_strict(data, max_bytes=ENVELOPE_MAX_BYTES) if isinstance(data, bytes | bytearray) else data
    _check_shape(env)
    records = [SignatureRecord(s["signer"], s["key_fpr"], s["sig"]) for s in env["signatures"]]
    return b64url_decode(env["payload"]), records


def verify_envelope(
    env: bytes | Mapping[str, Any], keys_by_fpr: Mapping[str, str | bytes], now: datetime | None = None
) -> tuple[bytes, list[SignatureResult]]:
    """Verify every signature over the payload bytes, then require the payload to be canonical.

    Returns the payload bytes and one result per signature, in envelope order; `key_fpr` of each record
    selects the key from `keys_by_fpr` (primary fingerprints). A non-canonical payload turns every
    otherwise valid result into "invalid" with the reason, so `all(r.ok for r in results)` is the
    whole verdict.
    """
    payload, records = open_envelope(env)
    keys = {fpr.replace(" ", "").upper(): key for fpr, key in keys_by_fpr.items()}
    results = []
    for record in records:
        key = keys.get(record.key_fpr)
        if key is None:
            results.append(SignatureResult(
                "unknown_key", f"no key with fingerprint {record.key_fpr} is known for {record.signer}",
                key_fpr=record.key_fpr))
            continue
        result = verify_detached(payload, record.sig, [key], now)
        if result.ok and result.key_fpr != record.key_fpr:  # the record must name the primary key
            result = replace(result, status="invalid",
                             reason=f"signature is by {result.key_fpr}, not {record.key_fpr} as recorded")
        results.append(result)
    try:
        parse_canonical(payload)
    except CanonicalError as exc:
        reason = "payload is not canonical"
        if exc.message != reason:
            reason += f": {exc.message}"
        results = [replace(r, status="invalid", reason=reason) if r.ok else r for r in results]
    return payload, results


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url without padding: one encoding per byte string, nothing else accepted."""
    if not isinstance(text, str) or not _B64URL.match(text) or len(text) % 4 == 1:
        raise CanonicalError("payload is not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise CanonicalError(f"payload is not unpadded base64url: {exc}") from exc
    if b64url_encode(data) != text:  # non-zero trailing bits would give two spellings of one payload
        raise CanonicalError("payload is not unpadded base64url (non-canonical trailing bits)")
    return data


def _check_shape(env: Any) -> None:
    if not isinstance(env, Mapping):
        raise CanonicalError("envelope must be a JSON object")
    if set(env) != _FIELDS:
        extra, missing = sorted(set(env) - _FIELDS), sorted(_FIELDS - set(env))
        raise CanonicalError(f"envelope fields: unknown {extra}, missing {missing}")
    if not isinstance(env["payload"], str):
        raise CanonicalError("envelope payload must be a string")
    sigs = env["signatures"]
    if not isinstance(sigs, list) or not sigs:
        raise CanonicalError("envelope signatures must be a non-empty list")
    if len(sigs) > MAX_ENVELOPE_SIGNATURES:
        raise CanonicalError(f"envelope has {len(sigs)} signatures; at most {MAX_ENVELOPE_SIGNATURES}")
    for index, sig in enumerate(sigs):
        where = f"signatures[{index}]"
        if not isinstance(sig, Mapping) or set(sig) != _SIGNATURE_FIELDS:
            raise CanonicalError(f"{where} must have exactly the fields signer, key_fpr, sig")
        if not all(isinstance(sig[name], str) and sig[name] for name in _SIGNATURE_FIELDS):
            raise CanonicalError(f"{where}: signer, key_fpr and sig must be non-empty strings")
        if not _FINGERPRINT.match(sig["key_fpr"]):
            raise CanonicalError(f"{where}: key_fpr must be a full fingerprint (40 upper-case hex digits)")
