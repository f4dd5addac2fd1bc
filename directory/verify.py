"""Verify a requester: is this sender who they claim to be, and may they ask for this?

ISP staff paste what they received (sender address, phone, request type, the signed message); the
answer is a verdict with the reason for each check in plain language, the matched contact and
organisation, and the organisation's switchboard and website *from the directory* to call back on.

Verdict: `not_verified` when any hard check fails (unknown or deactivated sender, free-mail or look-alike
domain, expired or badly signed entry, request type not authorised, bad or foreign signature);
`caution` when only soft checks fail (no signed message, a stale entry, a match by phone only: things a
forger could also show); `verified` only when every applicable check passes. Every verification is
audited without the submitted content.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from directory import freshness, reads, runtime, signatures, validators
from directory.actors import Actor
from directory.errors import Forbidden, InvalidInput
from directory.freemail import is_free_mail
from directory.keys import (
    parse_canonical,
    verify_clearsigned,
    verify_detached,
)
from directory.lookalike import has_mixed_scripts, skeleton
from directory.models.entries import Contact, EntryVersion, Organisation, OrgDomain
from directory.models.search import DomainSkeleton, SearchPhone
from directory.search_sql import normalise_phone
from directory.vocabulary import REQUESTING_KINDS

# The longest value of each field verify reads: the API's schema and the web form refuse a longer one with
# a field error (cut short, a genuine signed message would fail its signature check instead).
LIMITS = {"email": 320, "phone": 40, "signed_message": 200_000, "data": 200_000, "signature": 64_000}
ADVICE = ("Call back on the switchboard number published in the directory (or reach the organisation "
          "through its website), never on a number or address given in the request.")
_SIGNATURE_WORDS = {
    "valid": "the message is signed with a key listed for this contact",
    "key_revoked": "the key that signed the message has been revoked",
    "key_expired": "the key that signed the message has expired",
    "unknown_key": "the message is signed by a key that is not listed for this contact in the directory",
    "invalid": "the signature is not valid",
}


@dataclass(frozen=True)
class Request:
    email: str | None = None
    phone: str | None = None
    request_type: str | None = None
    signed_message: str | None = None
    data: str | None = None
    signature: str | None = None


@dataclass(frozen=True)
class Check:
    check: str
    ok: bool
    detail: str
    hard: bool = True  # a failed hard check means not_verified; a failed soft one means caution


@dataclass
class _Found:
    org: Organisation | None = None
    doc: dict[str, Any] | None = None
    contact: dict[str, Any] | None = None
    by: str | None = None  # "email" | "phone"


def verify(request: Request, actor: Actor) -> dict[str, Any]:
    if not actor.can_read_restricted:
        raise Forbidden("verifying a requester needs a reader account")
    email, phone = _inputs(request)
    now = runtime.now()
    found = _find(email, phone)
    checks: list[Check] = []
    if email is not None:
        checks += _email_checks(email, found)
    checks += _contact_checks(found, request, now)
    signature_checks, signed_text = _signature_checks(found, request, now)
    checks += signature_checks
    failed = [c for c in checks if not c.ok]
    verdict = ("not_verified" if any(c.hard for c in failed) else "caution" if failed else "verified")
    callback_org = found.org or _claimed_org(email)
    reads.charge(actor, "verify", found.org.entry_id if found.org else None,
                 {"request_type": request.request_type, "failed": [c.check for c in failed],
                  "signed": bool(request.signed_message or request.signature), "matched_by": found.by},
                 outcome=verdict)
    return {
        "verdict": verdict,
        "checks": [{"check": c.check, "ok": c.ok, "detail": c.detail} for c in checks],
        "contact": _contact_out(found.contact),
        "organisation": _org_out(found.org, now),
        "callback": _callback(callback_org),
        # Exactly the text a valid signature covers (None without one): staff compare it with the
        # request they received, whose email body or covering letter may ask for something else.
        "signed_text": signed_text,
    }


def _inputs(request: Request) -> tuple[str | None, str | None]:
    if not request.email and not request.phone:
        raise InvalidInput("give the sender's email or phone", {"email": ["give email or phone"]})
    if request.signed_message and (request.data or request.signature):
        raise InvalidInput("give either signed_message or data and signature",
                           {"signed_message": ["not together with data/signature"]})
    if bool(request.data) != bool(request.signature):
        raise InvalidInput("a detached signature needs both data and signature",
                           {"signature": ["give data and signature together"]})
    email = phone = None
    if request.email:
        try:
            local, _, domain = validators.email(request.email.strip()).rpartition("@")
        except ValueError as exc:
            raise InvalidInput("not an email address", {"email": [str(exc)]}) from None
        email = f"{local}@{domain}".lower()
    if request.phone:
        phone = normalise_phone(request.phone)
        if phone is None:
            raise InvalidInput("not a phone number", {"phone": ["an E.164 number, e.g. +4930901820"]})
    return email, phone


def _find(email: str | None, phone: str | None) -> _Found:
    """The designated contact by email, else by phone; active contacts and requesting kinds first."""
    candidates: list[tuple[str, str]] = []
    by = None
    if email is not None:
        candidates = _pairs(Contact.select(Contact.organisation, Contact.contact_id)
                            .join(Organisation).where((Contact.email == email) & ~Organisation.deleted)
                            .order_by(Contact.active.desc(), Organisation.entry_id))
        by = "email"
    if not candidates and phone is not None:
        candidates = _pairs(SearchPhone.select(SearchPhone.entry_id, SearchPhone.contact_id)
                            .where(SearchPhone.phone == phone)
                            .order_by(SearchPhone.entry_id, SearchPhone.contact_id))
        by = "phone"
    best: _Found = _Found()
    for entry_id, contact_id in candidates:
        found = _load(entry_id, contact_id, by)
        if found.doc is not None and found.doc["kind"] in REQUESTING_KINDS:
            return found
        best = best if best.org is not None else found
    return best


def _pairs(query: Any) -> list[tuple[str, str]]:
    return [(str(a), str(b)) for a, b in query.tuples()]


def _load(entry_id: str, contact_id: str, by: str | None) -> _Found:
    org = Organisation.get(Organisation.entry_id == entry_id)
    doc = parse_canonical(bytes(_version(org).payload))
    contact = next((c for c in doc.get("contacts", []) if c["contact_id"] == contact_id), None)
    return _Found(org, doc, contact, by)


def _version(org: Organisation) -> EntryVersion:
    return EntryVersion.get((EntryVersion.entry_id == org.entry_id) & (EntryVersion.version == org.version))


def _email_checks(email: str, found: _Found) -> list[Check]:
    domain = email.rpartition("@")[2]
    checks = []
    official = found.doc.get("official_email_domains", []) if found.doc else []
    if found.doc is not None:
        ok = any(domain == d or domain.endswith("." + d) for d in official)
        detail = (f"{domain} is an official email domain of {found.doc['name']}" if ok else
                  f"{domain} is not one of the official email domains of {found.doc['name']} "
                  f"({', '.join(official) or 'none listed'})")
        checks.append(Check("official_domain", ok, detail))
    free = is_free_mail(domain)
    checks.append(Check("free_mail", not free, f"{domain} is a free-mail provider: agencies do not send "
                        "requests from private mailboxes" if free else f"{domain} is not a known free-mail "
                        "provider"))
    checks.append(_lookalike(domain))
    return checks


def _lookalike(domain: str) -> Check:
    similar = (DomainSkeleton.select(DomainSkeleton.domain, Organisation.name)
               .join(Organisation, on=(Organisation.entry_id == DomainSkeleton.entry_id))
               .where((DomainSkeleton.skeleton == skeleton(domain)) & (DomainSkeleton.domain != domain)
                      & ~Organisation.deleted).order_by(DomainSkeleton.domain).objects().first())
    exact = OrgDomain.select().where((OrgDomain.domain == domain) & (OrgDomain.role == "official")).exists()
    if similar is not None and not exact:
        return Check("lookalike_domain", False, f"{domain} looks like {similar.domain}, the official domain "
                     f"of {similar.name}, but is a different domain")
    if has_mixed_scripts(domain):
        return Check("lookalike_domain", False, f"{domain} mixes letters of different scripts, a common "
                     "trick to imitate another domain")
    return Check("lookalike_domain", True, f"{domain} does not imitate an official domain in the directory")


def _contact_checks(found: _Found, request: Request, now: int) -> list[Check]:
    if found.org is None or found.doc is None:
        who = "address" if request.email else "number"
        return [Check("designated_contact", False, f"this {who} is not listed as a designated contact of "
                      "any organisation in the directory")]
    doc, contact = found.doc, found.contact
    if contact is None:
        checks = [Check("designated_contact", False, f"the number is the switchboard of {doc['name']}, not a "
                        "designated contact, and caller numbers can be spoofed: call back", hard=False)]
    elif not contact.get("active", True):
        checks = [Check("designated_contact", False, f"{contact['display_name']} was a designated contact of "
                        f"{doc['name']} but is no longer active")]
    elif found.by == "phone":
        checks = [Check("designated_contact", False, f"the number belongs to {contact['display_name']} of "
                        f"{doc['name']}, but caller numbers can be spoofed: call back", hard=False)]
    else:
        checks = [Check("designated_contact", True, f"{contact['display_name']} is an active designated "
                        f"contact of {doc['name']} ({doc['country']})")]
    checks += [_entry_fresh(found.org, doc, now), _entry_signature(found.org)]
    if request.request_type and contact is not None:
        checks.append(_authorised(doc, contact, request.request_type))
    return checks


def _entry_fresh(org: Organisation, doc: dict[str, Any], now: int) -> Check:
    verdict = freshness.row_status(org, now)
    state = verdict.status
    why = f" ({'; '.join(verdict.reasons)})" if verdict.reasons else ""
    detail = {"expired": f"the directory entry of {doc['name']} has expired: its details may be outdated",
              "source_stale": f"the directory entry of {doc['name']} comes from a node that stopped "
                              "vouching for it",
              "stale": f"the directory entry of {doc['name']} is out of date"}.get(
        state, f"the directory entry of {doc['name']} is current ({state})") + why
    return Check("entry_fresh", state in {"fresh", "due"}, detail, hard=state in {"expired", "source_stale"})


def _entry_signature(org: Organisation) -> Check:
    """The registrar node's signature over the stored bytes, under the key policy (`signatures`)."""
    registrar = [s for s in signatures.statuses(_version(org)) if s["role"] == "registrar"]
    ok = bool(registrar) and all(s["status"] == "valid" for s in registrar)
    who = ("this directory node" if org.registrar == runtime.settings()["NODE_ID"]
           else f"its registrar node {org.registrar}")
    if ok:
        return Check("entry_signature", True, f"the entry is validly signed by {who}")
    why = "; ".join(s["reason"] for s in registrar) or "no signature"
    return Check("entry_signature", False, f"the entry's signature by {who} does not verify ({why}): "
                 "do not rely on it")


def _authorised(doc: dict[str, Any], contact: dict[str, Any], request_type: str) -> Check:
    if doc["kind"] not in REQUESTING_KINDS:
        return Check("request_type_authorised", False, f"{doc['name']} is not an authority that issues "
                     "requests")
    allowed = contact.get("authorised_request_types", [])
    ok = request_type in allowed
    words = request_type.replace("_", " ")
    name = contact["display_name"]
    listed = ", ".join(t.replace("_", " ") for t in allowed) or "none"
    return Check("request_type_authorised", ok, f"{name} is authorised for {words} requests" if ok else
                 f"{name} is not authorised for {words} requests (authorised: {listed})")


def _signature_checks(found: _Found, request: Request, now: int) -> tuple[list[Check], str | None]:
    """The signature check, and the text a valid signature covers (None without one)."""
    if not request.signed_message and not request.signature:
        return [Check("message_signature", False, "no signed message was given: an email address or a phone "
                      "number alone can be forged", hard=False)], None
    if found.doc is None or found.contact is None:
        return [Check("message_signature", False, "the signature cannot be checked: the sender is not a "
                      "designated contact")], None
    listed = set(found.contact.get("key_fingerprints", []))
    keys = [k["public_key"] for k in found.doc.get("keys", []) if k["fingerprint"] in listed]
    if not keys:
        return [Check("message_signature", False, "no key is listed for this contact in the directory")], None
    at = datetime.fromtimestamp(now, UTC)
    if request.signed_message:
        result, text = verify_clearsigned(request.signed_message, keys, at)
    else:
        text = request.data or ""
        result = verify_detached(text.encode("utf-8"), request.signature or "", keys, at)
    detail = _SIGNATURE_WORDS[result.status]
    if not result.ok:
        detail += f" ({result.reason})"
        return [Check("message_signature", False, detail)], None
    return [_signature_age(detail, result.created, at)], text


def _signature_age(detail: str, created: datetime | None, at: datetime) -> Check:
    """A good signature proves who wrote the message and when, not that they ask today: anyone holding a
    copy of an old signed request (a compromised mailbox, a leaked case file) can send it again."""
    if created is None:
        return Check("message_signature", True, detail)
    detail += f", on {created.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    age = at - created
    # Older signatures prove authorship, not a current request (a soft failure: the verdict is caution).
    if age <= timedelta(days=runtime.settings()["VERIFY_MAX_AGE_DAYS"]):
        return Check("message_signature", True, detail)
    return Check("message_signature", False, f"{detail}, {age.days} days ago: an old signed message can be "
                 "sent again by anyone who has a copy; ask for a newly signed request", hard=False)


def _claimed_org(email: str | None) -> Organisation | None:
    """With no contact matched, the organisation whose official domain (or look-alike) was used."""
    if email is None:
        return None
    domain = email.rpartition("@")[2]
    owners = _pairs(OrgDomain.select(OrgDomain.organisation, OrgDomain.domain)
                    .where((OrgDomain.domain == domain) & (OrgDomain.role == "official"))
                    .order_by(OrgDomain.organisation))
    owners = owners or _pairs(DomainSkeleton.select(DomainSkeleton.entry_id, DomainSkeleton.domain)
                              .where(DomainSkeleton.skeleton == skeleton(domain))
                              .order_by(DomainSkeleton.entry_id))
    entry_id = owners[0][0] if owners else None
    return Organisation.get_or_none((Organisation.entry_id == entry_id) & ~Organisation.deleted)


def _callback(org: Organisation | None) -> dict[str, Any]:
    if org is None:
        return {"switchboard_phone": None, "website": None, "advice": "The sender is not in the directory. "
                "Find the agency through an independent source before answering."}
    view = json.loads(org.public_view)
    return {"switchboard_phone": view["switchboard_phone"], "website": view["website"],
            "organisation": org.name, "advice": ADVICE}


def _contact_out(contact: dict[str, Any] | None) -> dict[str, Any] | None:
    if contact is None:
        return None
    names = ("contact_id", "display_name", "title", "email", "authorised_request_types", "emergency",
             "key_fingerprints", "active")
    return {name: contact.get(name) for name in names}


def _org_out(org: Organisation | None, now: int) -> dict[str, Any] | None:
    if org is None:
        return None
    return {"id": org.entry_id, "name": org.name, "kind": org.kind, "country": org.country,
            **freshness.row_status(org, now).as_dict()}

