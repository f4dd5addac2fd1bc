"""Deterministic bench data: N organisations (default 100,000) with 5 contacts each (500,000).

Fast because it does not go through `entries.create` (one transaction, several statements and a PGPy
signature per entry): each document is built, canonicalised and projected here, and the rows of every
table the reads use (versions, organisations with their views and freshness clocks, contacts, domains,
prefixes, ASNs, facets, and the search index rows of `directory.search_sql.index_rows`) are bulk-inserted
in batches. Same seed, same data.

Signatures: PGPy needs ~5 ms per Ed25519 signature (100,000 entries would take 9 minutes), so only the
entries of requesting kinds (law enforcement, 24/7 points, judicial authorities: the ones `verify`
checks) are signed by the node key; the others carry the same record shape with a signature that does
not verify (`--sign-all` signs every entry). Search and resolve never read signatures. Versions are not
appended to the federation journal.

Shape: ~70 % service providers (each with a /24 and a /48, an ASN, two network domains; every 50th also
holds the covering /16, so longest-prefix matching has overlaps to resolve), ~20 % law enforcement,
the rest 24/7 points, judicial authorities and associations; names from a 4,000-word generated
vocabulary, one English alt name, 1-2 services, weekday hours with a holiday country or 24/7.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import random
import time
import uuid
from collections.abc import Iterator
from typing import Any

import rfc8785

from directory import db, documents, freshness, projection, runtime, search_sql
from directory.models.entries import (
    Contact,
    EntryVersion,
    Organisation,
    OrgAsn,
    OrgDomain,
    OrgFacet,
    OrgPrefix,
)
from directory.vocabulary import REQUEST_TYPES, REQUESTING_KINDS, SERVICE_TYPES

DAY = 86400
COUNTRIES = {"DE": "Europe/Berlin", "FR": "Europe/Paris", "AZ": "Asia/Baku", "BR": "America/Sao_Paulo",
             "AU": "Australia/Sydney", "GB": "Europe/London", "HU": "Europe/Budapest",
             "US": "America/New_York",
             "JP": "Asia/Tokyo", "ZA": "Africa/Johannesburg", "IN": "Asia/Kolkata", "NL": "Europe/Amsterdam",
             "IT": "Europe/Rome", "ES": "Europe/Madrid", "PL": "Europe/Warsaw", "SE": "Europe/Stockholm"}
LANGUAGES = {"DE": "de", "FR": "fr", "AZ": "az", "BR": "pt", "AU": "en", "GB": "en", "HU": "hu", "US": "en",
             "JP": "ja", "ZA": "en", "IN": "hi", "NL": "nl", "IT": "it", "ES": "es", "PL": "pl", "SE": "sv"}
ISP_SUFFIXES = ("Telecom", "Networks", "Hosting", "Broadband", "Cloud", "Mobile", "Internet", "Datacenter")
FIRST = ("Anna", "Jonas", "Aysel", "Mariana", "Liam", "Chloe", "Owen", "Eszter", "Priya", "Rafael", "Jana",
         "Mehmet", "Sarah", "Thomas", "Camila", "Katharina", "Frank", "Aylin", "Margaret", "Lucas")
LAST = ("Schulz", "Mammadova", "Souza", "Nguyen", "Price", "Kovacs", "Raman", "Oliveira", "Hoffmann",
        "Yildiz", "Whitfield", "Becker", "Ferreira", "Weber", "Demir", "Ellis", "Petersen", "Aliyeva")
BATCH = 500


def vocabulary(rng: random.Random, size: int = 4000) -> list[str]:
    syllables = ["ka", "lo", "mi", "ne", "ra", "so", "tu", "vi", "be", "do", "fa", "gu", "hi", "ja", "ku",
                 "le", "mo", "nu", "pe", "ri", "sa", "te", "zo", "an", "el", "is", "or", "un"]
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))).capitalize())
    return sorted(words)


def documents_for(count: int, seed: int, now: int, node_id: str,
                  contact_key: tuple[str, str] | None) -> Iterator[dict[str, Any]]:
    """The entry documents, deterministic for (count, seed, now)."""
    rng = random.Random(seed)
    words = vocabulary(rng)
    for number in range(count):
        yield _document(number, rng, words, now, node_id, contact_key)


def _document(number: int, rng: random.Random, words: list[str], now: int, node_id: str,
              contact_key: tuple[str, str] | None) -> dict[str, Any]:
    roll = rng.random()
    kind = ("service_provider" if roll < 0.7 else "law_enforcement" if roll < 0.9 else
            rng.choice(("point_of_contact_24_7", "judicial_authority", "association")))
    country = rng.choice(sorted(COUNTRIES))
    word_a, word_b = rng.choice(words), rng.choice(words)
    slug = f"{word_a.lower()}{word_b.lower()}{number}"
    domain = f"{slug}.example.{'net' if kind == 'service_provider' else 'org'}"
    if kind == "service_provider":
        name = f"{word_a} {word_b} {rng.choice(ISP_SUFFIXES)}"
        alt = f"{word_a} {rng.choice(ISP_SUFFIXES)} {country}"
    else:
        name = f"{word_a} {word_b} Cybercrime Unit"
        alt = f"{word_b} Police {country}"
    confirmed = now - rng.randint(0, 200) * DAY  # some are stale (CONFIRM_DAYS defaults to 180)
    entry_uuid = uuid.UUID(int=rng.getrandbits(128), version=4)
    doc: dict[str, Any] = {
        "typ": documents.TYP, "entry_id": f"urn:cpd:bench.example:{entry_uuid}",
        "registrar": node_id, "version": 1, "prev": None, "iat": confirmed, "confirmed_at": confirmed,
        "not_after": confirmed + 365 * DAY, "kind": kind, "name": name,
        "alt_names": [{"lang": "en", "name": alt}], "country": country, "website": f"https://www.{domain}",
        "switchboard_phone": f"+4930{number:08d}", "official_email_domains": [domain],
        "languages": sorted({LANGUAGES[country], "en"}), "timezone": COUNTRIES[country],
        "working_hours": _hours(rng, country),
        "contacts": [_contact(rng, number, i, kind, domain, contact_key) for i in range(5)],
    }
    if kind == "service_provider":
        doc.update(_network(number, slug))
        doc["services"] = [{"name": f"{word_a} {t.replace('_', ' ').title()}", "type": t}
                           for t in rng.sample(SERVICE_TYPES, rng.randint(1, 2))]
    if rng.random() < 0.5:
        doc["emergency_channels"] = [{"kind": "phone", "value": f"+4931{number:08d}", "always_open": True,
                                      "conditions": "Threat to life only", "last_tested_at": now - 10 * DAY}]
    if kind in REQUESTING_KINDS and contact_key is not None:
        doc["keys"] = [{"fingerprint": contact_key[0], "use": "contact", "public_key": contact_key[1]}]
    return doc


def _hours(rng: random.Random, country: str) -> dict[str, Any]:
    if rng.random() < 0.15:
        return {"always_open": True}
    start = rng.choice(("07:00", "08:00", "09:00"))
    weekly = {d: [[start, "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    return {"weekly": weekly, "holidays_country": country} if rng.random() < 0.5 else {"weekly": weekly}


def _contact(rng: random.Random, number: int, index: int, kind: str, domain: str,
             contact_key: tuple[str, str] | None) -> dict[str, Any]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    field = "authorised_request_types" if kind in REQUESTING_KINDS else "handles_request_types"
    contact: dict[str, Any] = {
        "contact_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "kind": "person",
        "display_name": f"{first} {last}", "title": "Liaison officer",
        "email": f"{first.lower()}.{last.lower()}{index}@{domain}", "phones": [f"+4932{number:07d}{index}"],
        "languages": ["en"], field: sorted(rng.sample(REQUEST_TYPES, 3)), "emergency": index == 0,
        "source": "manual", "active": True}
    if kind in REQUESTING_KINDS and contact_key is not None and index == 0:
        contact["key_fingerprints"] = [contact_key[0]]
    return contact


def _network(number: int, slug: str) -> dict[str, Any]:
    v4 = ipaddress.IPv4Network((int(ipaddress.IPv4Address("11.0.0.0")) + number * 256, 24))
    prefixes = [str(v4), str(ipaddress.IPv6Network(((0x2A00 << 112) + (number << 80), 48)))]
    if number % 50 == 0:
        prefixes.append(str(v4.supernet(new_prefix=16)))
    return {"ip_prefixes": prefixes, "asns": [4_200_000_000 + number],
            "domains": [f"{slug}.example.net", f"{slug}-cdn.example.com"]}


def rows_for(doc: dict[str, Any], sign: bool) -> dict[Any, list[dict[str, Any]]]:
    """Every table row of one document, as `entries.create` + `projection.project` would write them."""
    # RFC 8785 directly: `keys.canonical_bytes` also walks the document to enforce the input profile,
    # which these generated documents meet by construction (a third of the generation time otherwise).
    payload = rfc8785.dumps(doc)
    digest = hashlib.sha256(payload).hexdigest()
    node = runtime.node_key()
    sig = node.sign(payload) if sign else "-----BEGIN PGP SIGNATURE-----\n\nunsigned bench entry\n"
    entry_id = doc["entry_id"]
    rows: dict[Any, list[dict[str, Any]]] = {
        EntryVersion: [{"entry_id": entry_id, "version": 1, "payload": payload, "digest": digest,
                        "signatures": json.dumps([{"signer": doc["registrar"], "key_fpr": node.fingerprint,
                                                   "sig": sig}]),
                        "tombstone": False, "created_at": doc["iat"], "actor": "system:bench"}],
        Organisation: [{"entry_id": entry_id, "registrar": doc["registrar"], "version": 1, "digest": digest,
                        "deleted": False, "kind": doc["kind"], "name": doc["name"], "country": doc["country"],
                        "timezone": doc["timezone"], "iat": doc["iat"], "not_after": doc["not_after"],
                        "confirmed_at": doc["confirmed_at"],
                        "public_view": json.dumps(documents.view(doc, "public"), ensure_ascii=False),
                        "reader_view": json.dumps(documents.view(doc, "reader"), ensure_ascii=False),
                        "freshness": json.dumps(freshness.clocks(doc))}],
        Contact: [{"organisation": entry_id, "contact_id": c["contact_id"], "email": c["email"].lower(),
                   "display_name": c["display_name"], "active": True, "emergency": c["emergency"],
                   "source": "manual"} for c in doc["contacts"]],
        OrgDomain: [{"organisation": entry_id, "domain": d, "role": "official"}
                    for d in doc["official_email_domains"]]
        + [{"organisation": entry_id, "domain": d, "role": "network"} for d in doc.get("domains", [])],
        OrgPrefix: [projection._prefix_row(entry_id, p) for p in doc.get("ip_prefixes", [])],
        OrgAsn: [{"organisation": entry_id, "asn": a} for a in doc.get("asns", [])],
        OrgFacet: [{"organisation": entry_id, "facet": f, "value": v}
                   for f, v in sorted(search_sql.facets(doc))],
    }
    rows.update(search_sql.index_rows(doc))
    return rows


def generate(count: int, *, seed: int = 4, now: int | None = None, sign_all: bool = False,
             contact_key: tuple[str, str] | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """Insert `count` organisations; returns a small sample of the documents for the benchmark's queries."""
    now = runtime.now() if now is None else now
    node_id = str(runtime.settings()["NODE_ID"])
    sample: list[dict[str, Any]] = []
    pending: dict[Any, list[dict[str, Any]]] = {}
    started = time.perf_counter()
    for number, doc in enumerate(documents_for(count, seed, now, node_id, contact_key), start=1):
        for model, rows in rows_for(doc, sign_all or doc["kind"] in REQUESTING_KINDS).items():
            pending.setdefault(model, []).extend(rows)
        if number % 97 == 0:
            sample.append(doc)
        if number % BATCH == 0 or number == count:
            _flush(pending)
            pending = {}
            if progress and number % (BATCH * 20) == 0:
                print(f"  {number} organisations in {time.perf_counter() - started:.0f} s", flush=True)
    return sample


def _flush(pending: dict[Any, list[dict[str, Any]]]) -> None:
    with db.write():
        first = (EntryVersion, Organisation)  # the others refer to the organisation row
        for model in (*first, *(m for m in pending if m not in first)):
            _insert(model, pending.get(model, []))


def _insert(model: Any, rows: list[dict[str, Any]]) -> None:
    """executemany with one prepared INSERT: peewee's insert_many builds SQL text per row (slow here)."""
    if not rows:
        return
    columns = list(rows[0])
    names = ", ".join(f'"{model._meta.fields[c].column_name}"' for c in columns)
    marks = ", ".join([db.database.param] * len(columns))
    cursor = db.database.cursor()
    cursor.executemany(f'INSERT INTO "{model._meta.table_name}" ({names}) VALUES ({marks})',
                       [tuple(row[c] for c in columns) for row in rows])
