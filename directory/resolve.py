"""Resolve: who is responsible for an IP address, an AS number, a domain or an email address.

- IP: longest-prefix match, IPv4 and IPv6. Prefixes are stored as fixed-width hex bounds
  (`OrgPrefix`); a prefix containing the address starts at the address masked to the prefix's length,
  so one indexed query over the (at most 33 or 129) masked addresses finds every covering prefix.
- Domain: suffix match on network and official domains; the longest holder wins
  (`mail.shop.example.net` → the holder of `example.net`). Email: the domain after the "@".
- Among equally specific holders every organisation is returned, ordered by name then id.
Expired entries are left out unless asked for. Each answer carries what an officer needs next: liaison
contacts (readers), emergency channels, what a request must contain, and reachable-now.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from directory import reads, runtime, validators
from directory.actors import Actor
from directory.errors import InvalidInput
from directory.models.entries import Organisation, OrgAsn, OrgDomain, OrgPrefix
from directory.models.search import SearchEntry
from directory.search import STATUS_COLUMNS, reachable, status

KINDS = ("ip", "asn", "domain", "email")
_REQUIREMENT_FIELDS = ("documentation", "procedures", "translation_languages", "response_times",
                       "priority_levels", "preservation_notice", "mla_procedure_url", "foreign_cooperation")


def resolve(lookup: dict[str, str], actor: Actor, *, tz: str | None = None,
            include_expired: bool = False) -> dict[str, Any]:
    """Answer one lookup (`{"ip": ...}`, `{"asn": ...}`, `{"domain": ...}` or `{"email": ...}`)."""
    given = {k: v for k, v in lookup.items() if k in KINDS and v not in (None, "")}
    if len(given) != 1:
        raise InvalidInput("give exactly one of ip, asn, domain, email",
                           {name: ["give exactly one of ip, asn, domain, email"] for name in KINDS})
    (kind, value), = given.items()
    now = runtime.now()
    found = {"ip": _by_ip, "asn": _by_asn, "domain": _by_domain, "email": _by_email}[kind](
        str(value), _visible(now, include_expired))
    matches = [_answer(entry_id, matched, actor, now, tz) for entry_id, matched in found]
    matches.sort(key=lambda m: (m["organisation"]["sort_name"].encode(), m["organisation"]["id"]))
    for match in matches:
        match["organisation"].pop("sort_name")
    if actor.can_read_restricted and matches:
        reads.charge(actor, "read.resolve", None, {"by": kind, "count": len(matches)}, len(matches))
    return {"query": {kind: str(value)}, "matches": matches}


def _visible(now: int, include_expired: bool) -> Any:
    """The condition on a joined Organisation row (a join, not `IN (SELECT ...)`: that would list every
    organisation in the directory before looking at the few candidates)."""
    condition = ~Organisation.deleted
    if not include_expired:
        condition &= (Organisation.not_after > now) & (
            Organisation.source_valid_until.is_null() | (Organisation.source_valid_until > now))
    return condition


def _by_ip(value: str, visible: Any) -> list[tuple[str, dict[str, Any]]]:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        raise InvalidInput("not an IP address", {"ip": [f"not an IPv4 or IPv6 address: {value!r}"]}) from None
    bits = address.max_prefixlen
    width = bits // 4
    number = int(address)
    starts = sorted({format(number >> (bits - n) << (bits - n), f"0{width}x") for n in range(bits + 1)})
    target = format(number, f"0{width}x")
    rows = _tuples(OrgPrefix.select(OrgPrefix.organisation, OrgPrefix.prefix, OrgPrefix.length)
                   .join(Organisation).where(
        (OrgPrefix.family == address.version) & OrgPrefix.first.in_(starts) & (OrgPrefix.last >= target)
        & visible))
    if not rows:
        return []
    longest = max(length for _, _, length in rows)
    best = sorted({(org, prefix) for org, prefix, length in rows if length == longest})
    return [(org, {"by": "ip", "prefix": prefix}) for org, prefix in best]


def _by_asn(value: str, visible: Any) -> list[tuple[str, dict[str, Any]]]:
    text = value.strip().upper().removeprefix("AS")
    try:
        number = validators.asn(int(text))
    except ValueError:
        raise InvalidInput("not an AS number", {"asn": [f"not an AS number: {value!r}"]}) from None
    rows = _tuples(OrgAsn.select(OrgAsn.organisation).join(Organisation).where(
        (OrgAsn.asn == number) & visible))
    return [(org, {"by": "asn", "asn": number}) for org in sorted({r[0] for r in rows})]


def _by_domain(value: str, visible: Any, field: str = "domain") -> list[tuple[str, dict[str, Any]]]:
    try:
        name = validators.domain(value)
    except ValueError as exc:
        raise InvalidInput("not a domain name", {field: [str(exc)]}) from None
    labels = name.split(".")
    candidates = [".".join(labels[i:]) for i in range(len(labels) - 1)]
    rows = _tuples(OrgDomain.select(OrgDomain.organisation, OrgDomain.domain, OrgDomain.role)
                   .join(Organisation).where(OrgDomain.domain.in_(candidates) & visible))
    if not rows:
        return []
    longest = max(len(domain) for _, domain, _ in rows)
    roles: dict[tuple[str, str], set[str]] = {}
    for org, domain, role in rows:
        if len(domain) == longest:
            roles.setdefault((org, domain), set()).add(role)
    return [(org, {"by": field, "domain": domain, "roles": sorted(r)})
            for (org, domain), r in sorted(roles.items())]


def _by_email(value: str, visible: Any) -> list[tuple[str, dict[str, Any]]]:
    try:
        address = validators.email(value.strip())
    except ValueError as exc:
        raise InvalidInput("not an email address", {"email": [str(exc)]}) from None
    return _by_domain(address.rpartition("@")[2], visible, "email")


def _answer(entry_id: str, matched: dict[str, Any], actor: Actor, now: int, tz: str | None) -> dict[str, Any]:
    row: dict[str, Any] = _first(
        Organisation.select(Organisation.public_view, Organisation.reader_view, *STATUS_COLUMNS,
                            SearchEntry.summary, SearchEntry.hours, SearchEntry.sort_name)
        .join(SearchEntry, on=(SearchEntry.entry_id == Organisation.entry_id))
        .where(Organisation.entry_id == entry_id))
    restricted = actor.can_read_restricted
    view = json.loads(row["reader_view"] if restricted else row["public_view"])
    organisation = json.loads(row["summary"])
    organisation.update(status(row, now).as_dict(), sort_name=row["sort_name"])
    answer: dict[str, Any] = {
        "organisation": organisation,
        "matched": matched,
        "reachable": reachable(row["hours"], now, tz),
        "emergency_channels": view.get("emergency_channels", []),
        "requirements": _requirements(view),
        "keys": [{"fingerprint": k["fingerprint"], "use": k["use"]} for k in view.get("keys", [])],
    }
    if restricted:
        answer["contacts"] = [_contact(c, view, now, tz) for c in view.get("contacts", [])]
    return answer


def _tuples(query: Any) -> list[tuple[Any, ...]]:
    return list(query.tuples())


def _first(query: Any) -> dict[str, Any]:
    row: dict[str, Any] = query.dicts().get()
    return row


def _requirements(view: dict[str, Any]) -> dict[str, Any]:
    programme = view.get("programme", {})
    out = {name: programme[name] for name in _REQUIREMENT_FIELDS if name in programme}
    out["languages"] = view.get("languages", [])
    return out


def _contact(contact: dict[str, Any], view: dict[str, Any], now: int, tz: str | None) -> dict[str, Any]:
    """A liaison contact with its own reachable-now (its hours, else the organisation's)."""
    own = contact.get("working_hours") or view.get("working_hours")
    hours_json = json.dumps({"timezone": view["timezone"], "working_hours": own})
    return {**contact, "reachable": reachable(hours_json, now, tz)}

