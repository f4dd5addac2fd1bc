"""Parse public keys and establish, cryptographically, what their self-signatures say.

PGPy parses the packets; everything PGPy would otherwise *decide* is decided here (TRAPS.md 1-4):
which user IDs, direct-key signatures, subkey bindings, back-signatures and revocations were really made
by this primary key. The result, `ParsedKey`, holds only verified facts and no verdict: what is valid
depends on the time of the question, which `policy` applies. Parsing and the signature checks are the
expensive part, so `load_key` caches `ParsedKey` by the SHA-256 of the input.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes
from pgpy import PGPKey, PGPSignature
from pgpy.constants import HashAlgorithm, PubKeyAlgorithm, SignatureType
from pgpy.packet.subpackets.types import Opaque as OpaqueSubpacket

from directory.errors import InvalidInput
from directory.keys.armor import PRIVATE_KEY, PUBLIC_KEY, ArmorError, dearmor

MAX_KEY_BYTES = 512 * 1024
# Clocks of signer and verifier differ, and gpg dates a signature one second after the one it follows
# when both fall in the same second: a few minutes "from the future" is not an attack.
CLOCK_SKEW = timedelta(minutes=5)


def dated_before(created: datetime, epoch: int) -> bool:
    """Whether a signature made at `created` is dated before the instant `epoch`, beyond the clock skew
    (an organisation's signature over a version it could not have seen yet)."""
    return created < datetime.fromtimestamp(epoch, UTC) - CLOCK_SKEW


CACHE_SIZE = 256

# SHA-1 and MD5 are collision-prone; RIPEMD-160 and SHA-224 are below our 256-bit floor.
STRONG_HASHES = frozenset({HashAlgorithm.SHA256, HashAlgorithm.SHA384, HashAlgorithm.SHA512})
SIGNING_ALGORITHMS = frozenset({
    PubKeyAlgorithm.RSAEncryptOrSign, PubKeyAlgorithm.RSASign, PubKeyAlgorithm.DSA,
    PubKeyAlgorithm.ECDSA, PubKeyAlgorithm.EdDSA,
})
MIN_RSA_DSA_BITS = 2048
_REVOCATIONS = frozenset({
    SignatureType.KeyRevocation, SignatureType.SubkeyRevocation, SignatureType.CertRevocation,
})
_CERTIFICATIONS = frozenset({
    SignatureType.Generic_Cert, SignatureType.Persona_Cert, SignatureType.Casual_Cert,
    SignatureType.Positive_Cert,
})


_REVOCATION_REASONS = {
    "NotSpecified": "no reason given",
    "Superseded": "key superseded",
    "Compromised": "key compromised",
    "Retired": "key no longer used",
    "UserID": "user ID no longer valid",
}


class UnreadableKey(InvalidInput):
    """Not one OpenPGP public key we can read (garbage, a private key, several keys)."""

    code = "unreadable_key"


@dataclass(frozen=True)
class SigFacts:
    """What one cryptographically verified self-signature states, from its *hashed* subpackets only.

    Unhashed subpackets can be added by anyone (an attacker could "extend" an expired key), so they
    are never read for anything that matters.
    """

    created: datetime
    expires: datetime | None  # the signature's own expiry
    key_expires: datetime | None  # creation of the key it is about + KeyExpirationTime; None: never
    flags: frozenset[str] | None  # KeyFlags names; None when the subpacket is absent
    primary_uid: bool = False
    reason: str | None = None  # revocation reason, for revocation signatures
    backsig: bool = False  # subkey bindings: a valid primary-key back-signature is embedded

    def live(self, now: datetime) -> bool:
        """In force at `now`: already made (give or take clock skew) and not past its own expiry."""
        return self.created <= now + CLOCK_SKEW and (self.expires is None or now < self.expires)


@dataclass(frozen=True)
class UserIdFacts:
    text: str
    email: str
    certifications: tuple[SigFacts, ...]
    revocations: tuple[SigFacts, ...]


@dataclass(frozen=True)
class SubkeyFacts:
    fingerprint: str
    algorithm: str
    created: datetime
    can_sign: bool
    packet: Any  # PGPy key packet, for verifying data signatures
    bindings: tuple[SigFacts, ...]
    revocations: tuple[SigFacts, ...]
    problems: tuple[str, ...]  # why binding signatures found on it were not accepted


@dataclass(frozen=True)
class ParsedKey:
    fingerprint: str
    algorithm: str
    created: datetime
    can_sign: bool
    weakness: str | None  # e.g. RSA below 2048 bits: never usable
    packet: Any
    direct: tuple[SigFacts, ...]
    revocations: tuple[SigFacts, ...]
    user_ids: tuple[UserIdFacts, ...]
    subkeys: tuple[SubkeyFacts, ...]
    problems: tuple[str, ...]

    def subkey(self, fingerprint: str) -> SubkeyFacts | None:
        return next((s for s in self.subkeys if s.fingerprint == fingerprint), None)


class _Cache:
    """A small thread-safe LRU: worker threads share parsed keys."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[bytes, ParsedKey] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: bytes) -> ParsedKey | None:
        with self._lock:
            item = self._items.get(digest)
            if item is not None:
                self._items.move_to_end(digest)
            return item

    def put(self, digest: bytes, item: ParsedKey) -> None:
        with self._lock:
            self._items[digest] = item
            self._items.move_to_end(digest)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_cache = _Cache(CACHE_SIZE)


def load_key(key: str | bytes) -> ParsedKey:
    """Parse one armored or binary public key and verify its self-signatures (cached)."""
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(raw) > MAX_KEY_BYTES:
        raise UnreadableKey(f"key is {len(raw)} bytes; the limit is {MAX_KEY_BYTES}")
    digest = hashlib.sha256(raw).digest()
    parsed = _cache.get(digest)
    if parsed is None:
        try:
            parsed = _analyse(_parse(raw))
        except UnreadableKey:
            raise
        except Exception as exc:  # PGPy on malformed packets: whatever it raises, the key is unreadable
            raise UnreadableKey(f"unreadable key: {type(exc).__name__}: {exc}") from exc
        _cache.put(digest, parsed)
    return parsed


def clear_cache() -> None:
    _cache.clear()


def _parse(raw: bytes) -> Any:
    try:
        label, binary = dearmor(raw, {PUBLIC_KEY, PRIVATE_KEY})
    except ArmorError as exc:
        raise UnreadableKey(f"unreadable key: {exc}") from exc
    if label == PRIVATE_KEY:
        raise UnreadableKey("this is a private key; public keys only (export with `gpg --export --armor`)")
    try:
        pgp, others = PGPKey.from_blob(binary)
    except Exception as exc:  # PGPy raises anything from ValueError to IndexError on garbage
        raise UnreadableKey(f"unreadable key: not an OpenPGP key ({type(exc).__name__}: {exc})") from exc
    if pgp._key is None:
        raise UnreadableKey("unreadable key: no supported primary key packet")
    # PGPy's second return value lists every key in the blob, including the first one.
    extra = [k for k in others.values() if k is not pgp]
    if extra:
        raise UnreadableKey(f"the input holds {len(extra) + 1} keys; give exactly one key")
    if not pgp.is_public or not all(sub.is_public for sub in pgp.subkeys.values()):
        raise UnreadableKey("this is a private key; public keys only (export with `gpg --export --armor`)")
    return pgp


def algorithm_name(pgp: Any) -> str:
    alg = pgp.key_algorithm
    size = pgp.key_size
    if alg is PubKeyAlgorithm.EdDSA:
        return "EdDSA"
    if alg in {PubKeyAlgorithm.ECDSA, PubKeyAlgorithm.ECDH}:
        return f"{alg.name} {getattr(size, 'name', size)}"
    if alg in {PubKeyAlgorithm.RSAEncryptOrSign, PubKeyAlgorithm.RSASign, PubKeyAlgorithm.RSAEncrypt}:
        return f"RSA {size}"
    return f"{alg.name} {size}"


def _weakness(pgp: Any) -> str | None:
    if pgp.key_algorithm in {PubKeyAlgorithm.RSAEncryptOrSign, PubKeyAlgorithm.RSASign,
                             PubKeyAlgorithm.DSA} and pgp.key_size < MIN_RSA_DSA_BITS:
        return f"{algorithm_name(pgp)} is too small (at least {MIN_RSA_DSA_BITS} bits are required)"
    return None


def _analyse(pgp: Any) -> ParsedKey:
    keyid = str(pgp.fingerprint)[-16:]
    problems: list[str] = []
    direct: list[SigFacts] = []
    revocations: list[SigFacts] = []
    for sig in pgp._signatures:
        if sig.type == SignatureType.DirectlyOnKey:
            facts = _self_signature(sig, pgp, pgp, keyid, problems, "direct-key signature")
            if facts is not None:
                direct.append(facts)
        elif sig.type == SignatureType.KeyRevocation:
            # Only the key itself may revoke it here: designated revokers would need their key, and a
            # revocation by anyone else must not be able to switch a key off.
            facts = _self_signature(sig, pgp, pgp, keyid, problems, "key revocation")
            if facts is not None:
                revocations.append(facts)
    user_ids = tuple(_user_id(uid, pgp, keyid, problems) for uid in pgp.userids)
    subkeys = tuple(_subkey(sub, pgp, keyid) for sub in pgp.subkeys.values())
    return ParsedKey(
        fingerprint=str(pgp.fingerprint),
        algorithm=algorithm_name(pgp),
        created=pgp.created,
        can_sign=pgp.key_algorithm in SIGNING_ALGORITHMS,
        weakness=_weakness(pgp),
        packet=pgp._key,
        direct=tuple(direct),
        revocations=tuple(revocations),
        user_ids=user_ids,
        subkeys=subkeys,
        problems=tuple(problems),
    )


def _user_id(uid: Any, pgp: Any, keyid: str, problems: list[str]) -> UserIdFacts:
    certifications: list[SigFacts] = []
    revocations: list[SigFacts] = []
    for sig in uid._signatures:
        if sig.type in _CERTIFICATIONS:
            facts = _self_signature(sig, uid, pgp, keyid, problems, f"self-signature on {uid.userid!r}")
            if facts is not None:
                certifications.append(facts)
        elif sig.type == SignatureType.CertRevocation:
            facts = _self_signature(sig, uid, pgp, keyid, problems, f"revocation of {uid.userid!r}")
            if facts is not None:
                revocations.append(facts)
    return UserIdFacts(str(uid.userid), str(uid.email), tuple(certifications), tuple(revocations))


def _subkey(sub: Any, pgp: Any, keyid: str) -> SubkeyFacts:
    problems: list[str] = []
    bindings: list[SigFacts] = []
    revocations: list[SigFacts] = []
    for sig in sub._signatures:
        if sig.embedded:  # PGPy files back-signatures next to their binding; checked with the binding
            continue
        if sig.type == SignatureType.Subkey_Binding:
            facts = _self_signature(sig, sub, pgp, keyid, problems, "binding signature")
            if facts is not None:
                bindings.append(_with_backsig(facts, sig, sub))
        elif sig.type == SignatureType.SubkeyRevocation:
            facts = _self_signature(sig, sub, pgp, keyid, problems, "subkey revocation")
            if facts is not None:
                revocations.append(facts)
    if not bindings and not problems:
        problems.append("it has no binding signature")
    return SubkeyFacts(
        fingerprint=str(sub.fingerprint),
        algorithm=algorithm_name(sub),
        created=sub.created,
        can_sign=sub.key_algorithm in SIGNING_ALGORITHMS and _weakness(sub) is None,
        packet=sub._key,
        bindings=tuple(bindings),
        revocations=tuple(revocations),
        problems=tuple(problems),
    )


def _with_backsig(facts: SigFacts, binding: Any, sub: Any) -> SigFacts:
    """A signing subkey must sign the primary back (0x19): otherwise anyone could bind *someone else's*
    signing subkey to their own primary and claim that person's signatures (TRAPS.md 2)."""
    for embedded in binding._signature.subpackets["EmbeddedSignature"]:
        backsig = PGPSignature() | embedded
        backsig._parent = binding  # PGPy hashes embedded signatures differently when they have a parent
        try:
            ok = (
                backsig.type == SignatureType.PrimaryKey_Binding
                and backsig.hash_algorithm in STRONG_HASHES
                and backsig.key_algorithm == sub.key_algorithm
                and not unknown_critical(backsig)
                and verify_packet(sub._key, backsig, backsig.hashdata(sub))
            )
        except Exception:  # a malformed back-signature is no back-signature
            ok = False
        if ok:
            return replace(facts, backsig=True)
    return facts


def _self_signature(
    sig: Any, subject: Any, pgp: Any, keyid: str, problems: list[str], what: str
) -> SigFacts | None:
    """Facts of `sig` if the primary key made it over `subject` and it meets the policy, else None."""
    issuer = issuer_ids(sig)
    foreign = bool(issuer) and not any(i == keyid or i == str(pgp.fingerprint) for i in issuer)
    # Third-party certifications are normal on user IDs and irrelevant to us. Revocations are always
    # checked: the issuer key ID is unhashed, and changing it must not hide a genuine revocation.
    if foreign and sig.type not in _REVOCATIONS:
        if sig.type == SignatureType.Subkey_Binding:  # what a spliced subkey looks like
            problems.append(f"its {what} was made by another key ({issuer[-1]}) and is ignored")
        return None
    try:
        # A weak hash makes a signature worthless as evidence *for* a key; a revocation only switches
        # something off, so one that verifies counts whatever its hash (fail closed; gpg agrees).
        if sig.hash_algorithm not in STRONG_HASHES and sig.type not in _REVOCATIONS:
            problems.append(f"its {what} uses {hash_name(sig)}, which is too weak")
            return None
        if sig.key_algorithm != pgp.key_algorithm or unknown_critical(sig):
            problems.append(f"its {what} is malformed")
            return None
        if not verify_packet(pgp._key, sig, sig.hashdata(subject)):
            problems.append(f"its {what} was made by another key ({issuer[-1]}) and is ignored" if foreign
                            else f"its {what} does not verify with this primary key")
            return None
        created = sig.created
    except Exception as exc:  # fail closed: a signature we cannot check is not a signature
        problems.append(f"its {what} could not be checked ({type(exc).__name__})")
        return None
    subject_created = subject.created if isinstance(subject, PGPKey) else pgp.created
    if created < subject_created:
        problems.append(f"its {what} is older than the key it is about")
        return None
    subpackets = sig._signature.subpackets
    return SigFacts(
        created=created,
        expires=_after(created, subpackets["h_SignatureExpirationTime"]),
        key_expires=_after(subject_created, subpackets["h_KeyExpirationTime"]),
        flags=_flags(subpackets["h_KeyFlags"]),
        primary_uid=any(bool(p) for p in subpackets["h_PrimaryUserID"]),
        reason=_reason(subpackets["h_ReasonForRevocation"]),
    )


def verify_packet(packet: Any, sig: Any, hashdata: bytes) -> bool:
    """The one cryptographic check: does `sig` over `hashdata` verify with this key packet?"""
    result = packet.verify(hashdata, sig.__sig__, getattr(hashes, sig.hash_algorithm.name)())
    return result is True


def issuer_ids(sig: Any) -> list[str]:
    """Issuer fingerprints and key IDs named in the signature (hashed or not: the crypto decides)."""
    subpackets = sig._signature.subpackets
    found = [str(p.issuer_fingerprint) for p in subpackets["IssuerFingerprint"]]
    found += [str(p.issuer) for p in subpackets["Issuer"]]
    return found


def unknown_critical(sig: Any) -> bool:
    """RFC 4880 5.2.3.1: a critical subpacket we do not understand makes the signature invalid."""
    return any(isinstance(p, OpaqueSubpacket) and p.header.critical
               for p in sig._signature.subpackets._hashed_sp.values())


def hash_name(sig: Any) -> str:
    alg = sig.hash_algorithm
    return str(getattr(alg, "name", f"hash algorithm {alg}"))


def _after(start: datetime, subpackets: list[Any]) -> datetime | None:
    if not subpackets:
        return None
    delta: timedelta = subpackets[-1].expires
    return None if delta.total_seconds() == 0 else start + delta


def _flags(subpackets: list[Any]) -> frozenset[str] | None:
    if not subpackets:
        return None
    return frozenset(flag.name for flag in subpackets[-1].flags)


def _reason(subpackets: list[Any]) -> str | None:
    if not subpackets:
        return None
    packet = subpackets[-1]
    code = getattr(packet.code, "name", str(packet.code))
    text = _REVOCATION_REASONS.get(code, f"reason code {code}")
    return f"{text}: {packet.string}" if packet.string else text
