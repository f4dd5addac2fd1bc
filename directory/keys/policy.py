"""The directory's OpenPGP validity policy: what a key is good for, and whether a signature is good.

Everything is decided here from facts `keyring` verified cryptographically; PGPy's own verdicts are
never consulted (TRAPS.md 1-5). In short:

- public keys only; a signer is identified by the full fingerprint of the key we were given;
- hashes SHA-256 or stronger, for data signatures and for the self-signatures that make a key valid;
- a signature must be made within the lifetime of the primary key and of the signing subkey;
- revocations count only when made by the key itself and verified; revoked beats expired;
- a signing subkey needs a binding by *this* primary with the sign flag and a back-signature;
- user IDs count only with a valid, unrevoked self-signature;
- key expiry is computed here from the newest valid self-signatures;
- fail closed: anything unexpected is an "invalid" result with the reason, never an exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pgpy.constants import SignatureType

from directory.keys.cleartext import parse_clearsigned
from directory.keys.keyring import (
    CLOCK_SKEW,
    STRONG_HASHES,
    ParsedKey,
    SigFacts,
    SubkeyFacts,
    UnreadableKey,
    UserIdFacts,
    hash_name,
    issuer_ids,
    load_key,
    unknown_critical,
    verify_packet,
)
from directory.keys.signature import read_signatures

Status = Literal["valid", "invalid", "key_expired", "key_revoked", "unknown_key"]

_DOCUMENT_TYPES = frozenset({SignatureType.BinaryDocument, SignatureType.CanonicalDocument})
_TEXT_TYPES = frozenset({SignatureType.CanonicalDocument})
# When several results compete, the caller sees the most favourable one for *different* signatures
# (any good signature by a given key counts) and the least favourable one for copies of the same key.
_RANK: dict[str, int] = {"valid": 4, "key_expired": 3, "key_revoked": 2, "invalid": 1, "unknown_key": 0}


@dataclass(frozen=True)
class KeyInfo:
    fingerprint: str
    algorithm: str
    created: datetime
    expires: datetime | None
    revoked: bool
    revocation_reason: str | None
    usable_for_signing: bool
    reason: str | None
    user_ids: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    signing_subkeys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SignatureResult:
    status: Status
    reason: str
    key_fpr: str | None = None
    signing_fpr: str | None = None
    created: datetime | None = None
    hash_algorithm: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "valid"


@dataclass(frozen=True)
class _PrimaryState:
    """The primary key as of one moment."""

    user_ids: list[UserIdFacts]
    flags: frozenset[str] | None
    expires: datetime | None
    revocation: SigFacts | None
    problem: str | None  # why the key is not valid at all (no self-signature, too weak, ...)


def inspect_key(key: str | bytes, now: datetime | None = None) -> KeyInfo:
    """Everything the policy says about one public key at `now`; raises UnreadableKey."""
    now = _utc(now)
    parsed = load_key(key)
    state = _primary_state(parsed, now)
    signing_subkeys = [s.fingerprint for s in parsed.subkeys if _subkey_unusable(s, now) is None]
    reason = _key_unusable(parsed, state, now)
    if reason is None and not _primary_signs(parsed, state) and not signing_subkeys:
        reason = "neither the primary key nor any subkey may sign"
        problems = [f"subkey {s.fingerprint}: {_subkey_unusable(s, now)}" for s in parsed.subkeys]
        if problems:
            reason += " (" + "; ".join(problems) + ")"
    return KeyInfo(
        fingerprint=parsed.fingerprint,
        algorithm=parsed.algorithm,
        created=parsed.created,
        expires=state.expires,
        revoked=state.revocation is not None,
        revocation_reason=state.revocation.reason if state.revocation else None,
        usable_for_signing=reason is None,
        reason=reason,
        user_ids=[u.text for u in state.user_ids],
        emails=[u.email for u in state.user_ids if u.email],
        signing_subkeys=signing_subkeys,
    )


def verify_detached(
    data: bytes, signature: str | bytes, keys: Sequence[str | bytes], now: datetime | None = None
) -> SignatureResult:
    """Verify a detached signature over `data` against the given public keys (fail closed)."""
    try:
        return _verify(bytes(data), read_signatures(signature), keys, _utc(now), _DOCUMENT_TYPES, ())
    except Exception as exc:
        return _failure(exc)


def verify_clearsigned(
    message: str | bytes, keys: Sequence[str | bytes], now: datetime | None = None
) -> tuple[SignatureResult, str]:
    """Verify a clearsigned message; returns the result and the signed text.

    The text is returned whatever the verdict (a reader may need to see what was claimed); it is only
    attested when `result.ok`.
    """
    try:
        message_parts = parse_clearsigned(message)
    except Exception as exc:
        return _failure(exc), ""
    try:
        sigs = read_signatures(message_parts.signature)
        result = _verify(message_parts.signed_bytes, sigs, keys, _utc(now), _TEXT_TYPES,
                         message_parts.hashes)
    except Exception as exc:
        result = _failure(exc)
    return result, message_parts.text


def _verify(
    data: bytes, sigs: list[Any], keys: Sequence[str | bytes], now: datetime,
    types: frozenset[SignatureType], hash_header: tuple[str, ...],
) -> SignatureResult:
    parsed_keys: list[ParsedKey] = []
    unreadable: list[str] = []
    for key in keys:
        try:
            parsed_keys.append(load_key(key))
        except UnreadableKey as exc:
            unreadable.append(exc.message)
    results = []
    for sig in sigs:
        if hash_header and hash_name(sig) not in hash_header:
            results.append(SignatureResult(
                "invalid", f"the message's Hash: header ({', '.join(hash_header)}) does not match the "
                f"signature's hash algorithm ({hash_name(sig)})"))
            continue
        results.append(_verify_one(data, sig, parsed_keys, unreadable, now, types))
    return max(results, key=lambda r: _RANK[r.status])


def _verify_one(
    data: bytes, sig: Any, parsed_keys: list[ParsedKey], unreadable: list[str], now: datetime,
    types: frozenset[SignatureType],
) -> SignatureResult:
    try:
        issuers = issuer_ids(sig)
        matches = _signers(issuers, parsed_keys)
        if not matches:
            named = issuers[0] if issuers else "an unnamed key"
            reason = f"signed by {named}, which is not one of the keys given"
            if unreadable:
                reason += f" ({len(unreadable)} key(s) could not be read: {unreadable[0]})"
            return SignatureResult("unknown_key", reason, hash_algorithm=hash_name(sig))
        results = [_check(data, sig, parsed, sub, now, types) for parsed, sub in matches]
    except Exception as exc:
        return _failure(exc)
    return min(results, key=lambda r: _RANK[r.status])


def _signers(issuers: list[str], parsed_keys: list[ParsedKey]) -> list[tuple[ParsedKey, SubkeyFacts | None]]:
    """(key, subkey or None for the primary) pairs the signature names as its issuer.

    The issuer fingerprint subpacket decides when present; a bare 64-bit key ID (older signers) only
    nominates a candidate, and the cryptographic check against that exact key decides.
    """
    fingerprints = {i for i in issuers if len(i) == 40}
    keyids = {i for i in issuers if len(i) == 16}
    found: list[tuple[ParsedKey, SubkeyFacts | None]] = []
    for parsed in parsed_keys:
        candidates: list[tuple[str, SubkeyFacts | None]] = [(parsed.fingerprint, None)]
        candidates += [(s.fingerprint, s) for s in parsed.subkeys]
        for fpr, sub in candidates:
            if (fpr in fingerprints) if fingerprints else (fpr[-16:] in keyids):
                found.append((parsed, sub))
    return found


def _check(
    data: bytes, sig: Any, parsed: ParsedKey, sub: SubkeyFacts | None, now: datetime,
    types: frozenset[SignatureType],
) -> SignatureResult:
    created: datetime = sig.created
    signing_fpr = sub.fingerprint if sub else parsed.fingerprint

    def result(status: Status, reason: str) -> SignatureResult:
        return SignatureResult(status, reason, parsed.fingerprint, signing_fpr, created, hash_name(sig))

    if sig.type not in types:
        wanted = "a text signature (clearsigned)" if types == _TEXT_TYPES else "a signature over data"
        return result("invalid", f"this is not {wanted} but a {sig.type.name} signature")
    if sig.hash_algorithm not in STRONG_HASHES:
        return result("invalid", f"the signature uses {hash_name(sig)}, which is too weak; "
                                 "SHA-256 or stronger is required")
    signer_packet = sub.packet if sub else parsed.packet
    if sig.key_algorithm != signer_packet.pkalg or unknown_critical(sig):
        return result("invalid", "the signature is malformed (algorithm mismatch or unknown critical data)")
    if not verify_packet(signer_packet, sig, sig.hashdata(data)):
        return result("invalid", "the signature does not match the data: the data was changed after "
                                 "signing, or the signature was made for other data")
    sig_expires = sig._signature.subpackets["h_SignatureExpirationTime"]
    if sig_expires and sig_expires[-1].expires.total_seconds() and now >= created + sig_expires[-1].expires:
        return result("invalid", f"the signature itself expired on {_fmt(created + sig_expires[-1].expires)}")
    if created > now + CLOCK_SKEW:
        return result("invalid", f"the signature is dated {_fmt(created)}, in the future")
    if parsed.weakness:
        return result("invalid", f"key {parsed.fingerprint}: {parsed.weakness}")
    # Whether the subkey belongs to this key at all comes before any question of time.
    problem = _subkey_binding_problem(sub, now) if sub is not None else None
    if sub is not None and problem:
        return result("invalid", f"subkey {sub.fingerprint} {problem}")
    if created < parsed.created:
        return result("invalid", f"the signature is dated {_fmt(created)}, before the key was created "
                                 f"({_fmt(parsed.created)})")
    if sub is not None and created < sub.created:
        return result("invalid", f"the signature is dated {_fmt(created)}, before the signing subkey "
                                 f"{sub.fingerprint} was created ({_fmt(sub.created)})")
    state = _primary_state(parsed, now)
    if state.revocation is not None:
        return result("key_revoked", _revoked_reason(f"key {parsed.fingerprint}", state.revocation))
    if state.problem:
        return result("invalid", f"key {parsed.fingerprint}: {state.problem}")
    if sub is not None:
        revocation = _newest(sub.revocations)
        if revocation is not None:
            return result("key_revoked", _revoked_reason(f"signing subkey {sub.fingerprint}", revocation))
    elif not _primary_signs(parsed, state):
        return result("invalid", f"key {parsed.fingerprint} is not marked for signing")
    lifetimes = [(f"key {parsed.fingerprint}", state.expires)]
    if sub is not None:
        binding = _binding(sub, now)
        lifetimes.append((f"signing subkey {sub.fingerprint}", binding.key_expires if binding else None))
    for what, expires in lifetimes:
        if expires is not None and created >= expires:
            return result("key_expired", f"the signature was made on {_fmt(created)}, after {what} "
                                         f"expired ({_fmt(expires)})")
        if expires is not None and now >= expires:
            return result("key_expired", f"{what} expired on {_fmt(expires)}")
    by = f"key {parsed.fingerprint}" + (f" (subkey {sub.fingerprint})" if sub else "")
    return result("valid", f"good signature by {by}, made {_fmt(created)}")


def _primary_state(parsed: ParsedKey, now: datetime) -> _PrimaryState:
    valid: list[tuple[UserIdFacts, SigFacts]] = []
    for uid in parsed.user_ids:
        newest = _newest([c for c in uid.certifications if c.live(now)])
        if newest is None:
            continue
        # Revocations count whatever their date (fail closed; gpg may date one a second ahead).
        revoked = _newest(list(uid.revocations))
        if revoked is not None and revoked.created >= newest.created:
            continue
        valid.append((uid, newest))
    # TRAPS.md 4: expiry and flags come from the newest self-signature of the primary user ID and the
    # newest direct-key signature. When both set an expiry the earlier wins (fail closed).
    primary_uids = [pair for pair in valid if pair[1].primary_uid] or valid
    uid_sig = max((sig for _, sig in primary_uids), key=lambda s: s.created, default=None)
    direct = _newest([d for d in parsed.direct if d.live(now)])
    expiries = [s.key_expires for s in (uid_sig, direct) if s is not None and s.key_expires is not None]
    flags = uid_sig.flags if uid_sig is not None and uid_sig.flags is not None else (
        direct.flags if direct is not None else None)
    problem = None
    if uid_sig is None and direct is None:
        problem = "it has no valid self-signature (no user ID is certified by the key itself)"
        if parsed.problems:
            problem += ": " + "; ".join(parsed.problems)
    return _PrimaryState(
        user_ids=[uid for uid, _ in valid],
        flags=flags,
        expires=min(expiries) if expiries else None,
        revocation=_newest(list(parsed.revocations)),
        problem=problem,
    )


def _key_unusable(parsed: ParsedKey, state: _PrimaryState, now: datetime) -> str | None:
    if parsed.weakness:
        return parsed.weakness
    if state.revocation is not None:
        return _revoked_reason("the key", state.revocation)
    if state.problem:
        return state.problem
    if parsed.created > now + CLOCK_SKEW:
        return f"the key's creation date ({_fmt(parsed.created)}) is in the future"
    if state.expires is not None and now >= state.expires:
        return f"the key expired on {_fmt(state.expires)}"
    return None


def _primary_signs(parsed: ParsedKey, state: _PrimaryState) -> bool:
    # No key-flags subpacket at all is the pre-2007 convention "usable for anything the algorithm can".
    return parsed.can_sign and (state.flags is None or "Sign" in state.flags)


def _binding(sub: SubkeyFacts, now: datetime) -> SigFacts | None:
    return _newest([b for b in sub.bindings if b.live(now)])


def _subkey_binding_problem(sub: SubkeyFacts, now: datetime) -> str | None:
    """Why `sub` may not sign for its primary at all (revocation and expiry are checked separately)."""
    binding = _binding(sub, now)
    if binding is None:
        why = "; ".join(sub.problems) if sub.problems else "its binding signature is no longer in force"
        return f"is not bound to this key: {why}"
    if binding.flags is None or "Sign" not in binding.flags:
        usage = ", ".join(sorted(binding.flags or ())) or "none"
        return f"is not marked for signing (its usage: {usage}); an encryption-only key cannot sign"
    if not sub.can_sign:
        return f"is a {sub.algorithm} key, which may not sign (an encryption algorithm, or too small)"
    if not binding.backsig:
        return ("has no valid back-signature (primary key binding signature by the subkey); "
                "it may have been taken from another key")
    return None


def _subkey_unusable(sub: SubkeyFacts, now: datetime) -> str | None:
    problem = _subkey_binding_problem(sub, now)
    if problem:
        return problem
    revocation = _newest(list(sub.revocations))
    if revocation is not None:
        return _revoked_reason("it", revocation)
    binding = _binding(sub, now)
    if binding is not None and binding.key_expires is not None and now >= binding.key_expires:
        return f"it expired on {_fmt(binding.key_expires)}"
    if sub.created > now + CLOCK_SKEW:
        return "its creation date is in the future"
    return None


def _newest(sigs: Sequence[SigFacts]) -> SigFacts | None:
    return max(sigs, key=lambda s: s.created, default=None)


def _revoked_reason(what: str, revocation: SigFacts) -> str:
    why = f" ({revocation.reason})" if revocation.reason else ""
    return f"{what} was revoked on {_fmt(revocation.created)}{why}"


def _failure(exc: Exception) -> SignatureResult:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return SignatureResult("invalid", f"could not verify: {message}")


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")
    return now.astimezone(UTC)


def _fmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
