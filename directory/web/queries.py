"""Every domain call the web pages make to read, in one place (no Flask here).

The pages were first built against `organisations.list_page/read` while search/resolve/verify (issue 4),
freshness (issue 6), approvals and federation were being written; they now call those modules, and this
file is the one place a page's source of data changes.
"""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import UTC, datetime
from typing import Any

from directory import freshness, hours, organisations, resolve, runtime, search, validators, verify
from directory.actors import Actor
from directory.errors import InvalidInput
from directory.models.entries import Organisation
from directory.models.federation import Peer, PeerState
from directory.models.sync import SyncRun
from directory.paging import Page

FILTER_NAMES = ("country", "kind", "language", "request_type", "service_type")
_ASN = re.compile(r"^(?:as)?(\d{1,10})$", re.IGNORECASE)


def understand(text: str) -> tuple[str, str]:
    """What the one search box was given: an IP address, an AS number, an email, a domain or a name."""
    value = text.strip()
    if not value or " " in value:
        return "text", value
    try:
        ipaddress.ip_address(value)
        return "ip", value
    except ValueError:
        pass
    asn = _ASN.match(value)
    if asn:
        return "asn", asn.group(1)
    if "@" in value:
        return "email", value
    if "." in value:
        try:
            return "domain", validators.domain(value)
        except ValueError:
            pass
    return "text", value


def find(text: str, filters: dict[str, Any], actor: Actor, tz: str, page: int,
         per_page: int = 20) -> tuple[Page, str]:
    """Addresses (IP, AS number, email, domain) are resolved to their holder; anything else is searched.

    Returns the results and how the input was understood (text | ip | asn | domain | email). A domain
    nobody holds is searched as text too, so "telecom.example" also finds names and services.
    """
    how, value = understand(text)
    if how != "text":
        try:
            answer = resolve.resolve({how: value}, actor, tz=tz)
        except InvalidInput:  # looked like an address but is not one ("x@", "AS99999999999"): search it
            answer = None
        if answer is not None:
            items = [{**m["organisation"], "reachable": m["reachable"], "matched": m.get("matched")}
                     for m in answer["matches"]]
            items = [i for i in items if _passes(i, filters)]
            if items or how != "domain":
                return Page(items, len(items), 1, max(len(items), 1)), how
    chosen: dict[str, str | None] = {k: filters.get(k) or None for k in FILTER_NAMES}
    query = search.Query(text=text.strip(), tz=tz, emergency=bool(filters.get("emergency")),
                         open_now=bool(filters.get("open_now")), country=chosen["country"],
                         kind=chosen["kind"], language=chosen["language"],
                         service_type=chosen["service_type"], request_type=chosen["request_type"])
    return search.search(query, actor, page, per_page), "text"


def _passes(item: dict[str, Any], filters: dict[str, Any]) -> bool:
    """The filters a lookup by address can honour on its (few) answers."""
    if filters.get("open_now") and not item["reachable"]["open_now"]:
        return False
    if filters.get("emergency") and not item.get("emergency_channel"):
        return False
    return all(not filters.get(k) or item.get(k) == filters[k] for k in ("country", "kind"))


def reachable_now(schedule: dict[str, Any] | None, org_tz: str, viewer_tz: str,
                  always_open: bool = False) -> dict[str, Any]:
    """Open or closed now, until when or from when, with instants in the viewer's zone too."""
    at = datetime.fromtimestamp(runtime.now(), UTC)
    answer = hours.reachability({"always_open": True} if always_open else schedule, org_tz, at)
    return answer.in_zone(viewer_tz)


def organisation_page(entry_id: str, actor: Actor, tz: str) -> dict[str, Any]:
    """What the organisation page shows: the view the actor may see, reachable-now and history."""
    view, info = organisations.read(entry_id, actor)
    org_tz = view["timezone"]
    view["reachable"] = reachable_now(view.get("working_hours"), org_tz, tz)
    for contact in view.get("contacts", []):
        contact["reachable"] = reachable_now(contact.get("working_hours") or view.get("working_hours"),
                                             org_tz, tz)
    for channel in view.get("emergency_channels", []):
        channel["reachable"] = reachable_now(channel.get("working_hours"), org_tz, tz,
                                             channel.get("always_open", False))
    view["history"] = organisations.history(entry_id, actor)
    view["current_version"] = info.version
    view["local_registrar"] = view.get("registrar") == runtime.settings()["NODE_ID"]
    return view


def verify_requester(form: dict[str, str], actor: Actor) -> dict[str, Any]:
    """The verdict on a requester: checks in plain language and the call-back path from the directory."""
    given = {k: v.strip() or None for k, v in form.items()}
    request = verify.Request(email=given.get("email"), phone=given.get("phone"),
                             request_type=given.get("request_type"), signed_message=given.get("message"))
    return verify.verify(request, actor)


def freshness_report() -> list[dict[str, Any]]:
    """Every current entry that is not fresh, worst first, with its reasons."""
    rows = []
    for row in Organisation.select().where(~Organisation.deleted).order_by(Organisation.name):
        status = freshness.row_status(row)
        if status.status != "fresh":
            rows.append({"id": row.entry_id, "name": row.name, "status": status.status,
                         "reasons": status.reasons, "confirmed_at": row.confirmed_at,
                         "not_after": row.not_after})
    rows.sort(key=lambda r: -freshness.RANK[str(r["status"])])
    return rows


def sync_overview() -> dict[str, Any]:
    """Configured LDAP sources (DIRECTORY_SYNC_CONFIG) and each source's last runs."""
    configured: dict[str, Any] = {}
    path = str(runtime.settings().get("SYNC_CONFIG") or "")
    config_error = None
    if path:
        try:
            from directory.sync.config import load_sources

            configured = load_sources(path)
        except Exception as exc:  # the admin page shows a broken file instead of failing
            config_error = str(exc)
    runs = list(SyncRun.select().order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(200))
    names = sorted(set(configured) | {r.source for r in runs})
    sources = [{"name": name, "configured": name in configured,
                "organisation": getattr(configured.get(name), "organisation", None),
                "runs": [_run(r) for r in runs if r.source == name][:5]} for name in names]
    return {"path": path, "error": config_error, "sources": sources}


def _run(row: Any) -> dict[str, Any]:
    return {"started_at": row.started_at, "finished_at": row.finished_at, "outcome": row.outcome,
            "forced": row.forced, "version": row.version, "counts": json.loads(row.counts or "{}"),
            "message": row.message}


def peers_overview() -> list[dict[str, Any]]:
    """Federation peers (pinned key, scope) and the state of their last pull."""
    out = []
    for peer in Peer.select().order_by(Peer.name):
        state = PeerState.get_or_none(PeerState.peer == peer.id)
        out.append({"name": peer.name, "url": peer.url, "node_id": peer.node_id,
                    "fingerprint": peer.fingerprint, "countries": peer.countries, "kinds": peer.kinds,
                    "size": state.size if state else 0,
                    "valid_until": state.valid_until if state else None,
                    "last_success_at": state.last_success_at if state else None,
                    "last_error": state.last_error if state else None,
                    "last_error_at": state.last_error_at if state else None})
    return out
