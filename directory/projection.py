"""Rewrites the query tables (organisation row, contacts, domains, prefixes, ASNs, facets) from a document.

Called inside the transaction that writes the version, so the tables always describe the current version.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from directory import db, documents, freshness, search_sql
from directory.models.entries import Contact, Organisation, OrgAsn, OrgDomain, OrgFacet, OrgPrefix
from directory.search_sql import facets

CHILDREN = (Contact, OrgDomain, OrgPrefix, OrgAsn, OrgFacet)


def project(doc: dict[str, Any], digest: str) -> None:
    entry_id = doc["entry_id"]
    for model in CHILDREN:
        model.delete().where(model.organisation == entry_id).execute()
    search_sql.index(doc)  # the search index follows every version (a tombstone removes it)
    if doc["typ"] == documents.TOMBSTONE_TYP:
        _save_org(entry_id, doc["version"], digest, deleted=True)
        return
    _save_org(entry_id, doc["version"], digest, deleted=False, doc=doc)
    db.insert_rows(Contact, [
        {"organisation": entry_id, "contact_id": c["contact_id"], "email": c["email"].lower(),
         "display_name": c["display_name"], "active": c.get("active", True),
         "emergency": c.get("emergency", False), "source": c["source"]}
        for c in doc.get("contacts", [])])
    db.insert_rows(OrgDomain, [{"organisation": entry_id, "domain": d, "role": "official"}
                               for d in doc.get("official_email_domains", [])]
                   + [{"organisation": entry_id, "domain": d, "role": "network"}
                      for d in doc.get("domains", [])])
    db.insert_rows(OrgPrefix, [_prefix_row(entry_id, p) for p in doc.get("ip_prefixes", [])])
    db.insert_rows(OrgAsn, [{"organisation": entry_id, "asn": a} for a in sorted(set(doc.get("asns", [])))])
    db.insert_rows(OrgFacet, [{"organisation": entry_id, "facet": f, "value": v}
                              for f, v in sorted(facets(doc))])


def _prefix_row(entry_id: str, prefix: str) -> dict[str, Any]:
    network = ipaddress.ip_network(prefix)
    width = 8 if network.version == 4 else 32
    return {"organisation": entry_id, "family": network.version, "prefix": str(network),
            "first": format(int(network.network_address), f"0{width}x"),
            "last": format(int(network.broadcast_address), f"0{width}x"), "length": network.prefixlen}


def _save_org(entry_id: str, version: int, digest: str, *, deleted: bool,
              doc: dict[str, Any] | None = None) -> None:
    values: dict[str, Any] = {"version": version, "digest": digest, "deleted": deleted}
    if doc is not None:
        values.update(
            registrar=doc["registrar"], kind=doc["kind"], name=doc["name"], country=doc["country"],
            timezone=doc["timezone"], iat=doc["iat"], not_after=doc["not_after"],
            confirmed_at=doc["confirmed_at"],
            public_view=json.dumps(documents.view(doc, "public"), ensure_ascii=False),
            reader_view=json.dumps(documents.view(doc, "reader"), ensure_ascii=False),
            freshness=json.dumps(freshness.clocks(doc)))
    updated = Organisation.update(values).where(Organisation.entry_id == entry_id).execute()
    if not updated:
        Organisation.create(entry_id=entry_id, **values)
