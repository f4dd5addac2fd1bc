"""The demo data set in seeds/ and its loader: coverage of the data model, fiction safety, idempotence."""

from __future__ import annotations

import ipaddress
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from flask import Flask

from directory import entries, seeding
from directory.errors import InvalidInput
from directory.models.entries import Contact, EntryVersion, Organisation
from directory.vocabulary import ORGANISATION_KINDS, REQUESTING_KINDS

SEED_FILE = Path(__file__).resolve().parents[1] / "seeds" / "organisations.json"

# RFC 2606 / RFC 6761 reserved example names.
RESERVED_ZONES = ("example", "example.com", "example.net", "example.org")
# RFC 5737 and RFC 3849 documentation prefixes.
DOCUMENTATION_PREFIXES = [ipaddress.ip_network(p) for p in
                          ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]
# RFC 5398 documentation AS numbers.
DOCUMENTATION_ASNS = set(range(64496, 64512)) | set(range(65536, 65552))

URL_HOST = re.compile(r"https?://([^/\s:#?]+)", re.IGNORECASE)
EMAIL_DOMAIN = re.compile(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)")


def raw_organisations() -> list[dict[str, Any]]:
    organisations: list[dict[str, Any]] = json.loads(SEED_FILE.read_text(encoding="utf-8"))["organisations"]
    return organisations


def strings(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a document with the name of the member that holds it."""
    if isinstance(value, dict):
        for name, inner in value.items():
            yield from strings(inner, name)
    elif isinstance(value, list):
        for inner in value:
            yield from strings(inner, key)
    elif isinstance(value, str):
        yield key, value


def is_reserved(name: str) -> bool:
    name = name.lower().rstrip(".")
    return any(name == zone or name.endswith("." + zone) for zone in RESERVED_ZONES)


def inside(prefix: str, outer: str) -> bool:
    inner_net, outer_net = ipaddress.ip_network(prefix), ipaddress.ip_network(outer)
    return inner_net.version == outer_net.version and inner_net.subnet_of(outer_net)  # type: ignore[arg-type]


# --- the data set itself (no database) ------------------------------------------------------------


def test_every_organisation_validates_and_has_a_fixed_uuid4() -> None:
    organisations = seeding.read(SEED_FILE)
    assert organisations
    for organisation in organisations:
        assert uuid.UUID(organisation.uuid).version == 4, organisation.label
        loaded = seeding.validate(organisation)
        assert loaded["name"] == organisation.fields["name"]
    assert len({o.uuid for o in organisations}) == len(organisations)


def test_covers_the_data_model() -> None:
    orgs = raw_organisations()
    assert len(orgs) >= 12
    assert len({o["country"] for o in orgs}) >= 5
    assert len({o["timezone"] for o in orgs}) >= 4
    assert {o["kind"] for o in orgs} == set(ORGANISATION_KINDS)
    for org in orgs:
        for field in ("name", "alt_names", "country", "website", "switchboard_phone",
                      "official_email_domains", "languages", "timezone", "working_hours", "programme",
                      "contacts"):
            assert org.get(field), f"{org['name']} lacks {field}"
        assert all(alt["lang"] and alt["name"] for alt in org["alt_names"])
        assert 2 <= len(org["contacts"]) <= 5, org["name"]
        assert "keys" not in org, "keys are published separately, not in the seed"
        assert "Fictional" in org["programme"]["description"], org["name"]

    providers = [o for o in orgs if o["kind"] == "service_provider"]
    multi = [o for o in providers if len(o.get("services", [])) >= 3
             and all(s.get("data_categories") for s in o["services"])]
    assert multi, "one ISP with at least three services, each with its data categories"
    service_types = {s["type"] for o in providers for s in o.get("services", [])}
    assert {"mobile_access", "hosting", "email", "fixed_access"} <= service_types
    assert any(o is not multi[0] and any(s["type"] == "hosting" for s in o.get("services", []))
               for o in providers), "a hosting provider besides the multi-service ISP"
    assert all(o.get("asns") and o.get("ip_prefixes") for o in providers)

    for org in orgs:
        field = "authorised_request_types" if org["kind"] in REQUESTING_KINDS else "handles_request_types"
        wrong = "handles_request_types" if field == "authorised_request_types" else "authorised_request_types"
        assert not any(c.get(wrong) for c in org["contacts"]), f"{org['name']} uses {wrong}"
        if org["kind"] != "association":
            assert any(c.get(field) for c in org["contacts"]), f"{org['name']} designates nobody ({field})"
        if org["kind"] == "law_enforcement":
            assert org["programme"].get("incident_reporting"), org["name"]
    assert all(o["working_hours"].get("always_open") for o in orgs if o["kind"] == "point_of_contact_24_7")

    channels = [ch for o in orgs for ch in o.get("emergency_channels", [])]
    assert all(ch["conditions"] for ch in channels)
    assert any(ch.get("always_open") for ch in channels)
    assert any(ch.get("always_open") is False and ch.get("working_hours") for ch in channels)
    assert any(ch.get("last_tested_at") for ch in channels)
    assert any(c.get("emergency") for o in orgs for c in o["contacts"])
    assert any(not all(ord(ch) < 128 for ch in o["name"]) for o in orgs), "internationalised names"
    overlapping = [(a["name"], b["name"]) for a in orgs for b in orgs if a is not b
                   if any(inside(pa, pb) for pa in a.get("ip_prefixes", [])
                          for pb in b.get("ip_prefixes", []))]
    assert overlapping, "a customer's prefix inside its transit provider's, for longest-prefix demos"


def test_every_phone_number_is_valid_e164() -> None:
    numbers = {value for org in raw_organisations() for _, value in strings(org) if value.startswith("+")}
    assert len(numbers) > 30
    for number in numbers:
        assert re.fullmatch(r"\+[1-9]\d{6,14}", number), f"{number} is not written in E.164"
        parsed = phonenumbers.parse(number, None)
        assert phonenumbers.is_possible_number(parsed), number
        assert phonenumbers.is_valid_number(parsed), number


def test_every_domain_is_a_reserved_example_domain() -> None:
    seen: set[str] = set()
    for org in raw_organisations():
        for key, value in strings(org):
            names = set(URL_HOST.findall(value)) | set(EMAIL_DOMAIN.findall(value))
            if key in {"official_email_domains", "domains"}:
                names.add(value)
            for name in names:
                assert is_reserved(name), f"{org['name']}: {name} (in {key}) is not a reserved example domain"
            seen |= names
        assert is_reserved(URL_HOST.findall(org["website"])[0])
        official = org["official_email_domains"]
        for contact in org["contacts"]:
            domain = contact["email"].rsplit("@", 1)[1]
            assert any(domain == d or domain.endswith("." + d) for d in official), \
                f"{org['name']}: {contact['email']} is not on an official domain"
    assert len(seen) > 20


def test_every_prefix_and_asn_is_reserved_for_documentation() -> None:
    prefixes = [p for org in raw_organisations() for p in org.get("ip_prefixes", [])]
    asns = [a for org in raw_organisations() for a in org.get("asns", [])]
    assert prefixes and asns
    assert {ipaddress.ip_network(p).version for p in prefixes} == {4, 6}
    for text in prefixes:
        assert any(inside(text, str(doc)) for doc in DOCUMENTATION_PREFIXES), \
            f"{text} is outside the documentation ranges"
    assert set(asns) <= DOCUMENTATION_ASNS


# --- loading into a node --------------------------------------------------------------------------


def test_load_creates_every_organisation_with_its_fixed_entry_id(app: Flask) -> None:
    expected = raw_organisations()
    report = seeding.load()
    assert report == seeding.SeedReport(created=len(expected), existing=0)
    for org in expected:
        entry_id = entries.new_entry_id(org["uuid"])
        assert entry_id == f"urn:cpd:node-a.example:{org['uuid']}"
        document = entries.get_document(entry_id)
        assert document["version"] == 1
        assert document["name"] == org["name"]
        assert [c["contact_id"] for c in document["contacts"]] == [c["contact_id"] for c in org["contacts"]]
        assert all(c["source"] == "manual" for c in document["contacts"])
    assert Contact.select().count() == sum(len(o["contacts"]) for o in expected)
    actors = {v.actor for v in EntryVersion.select()}
    assert actors == {"system:seed"}


def test_loading_twice_creates_nothing_and_changes_no_version(app: Flask) -> None:
    first = seeding.load()
    before = sorted((v.entry_id, v.version, v.digest) for v in EntryVersion.select())
    current = sorted((o.entry_id, o.version, o.digest) for o in Organisation.select())

    second = seeding.load()

    assert second == seeding.SeedReport(created=0, existing=first.created)
    assert sorted((v.entry_id, v.version, v.digest) for v in EntryVersion.select()) == before
    assert sorted((o.entry_id, o.version, o.digest) for o in Organisation.select()) == current


def test_an_organisation_already_present_is_left_alone(app: Flask, tmp_path: Path) -> None:
    orgs = raw_organisations()
    partial = tmp_path / "first-two.json"
    partial.write_text(json.dumps({"organisations": orgs[:2]}), encoding="utf-8")
    assert seeding.load(partial) == seeding.SeedReport(created=2, existing=0)
    assert seeding.load() == seeding.SeedReport(created=len(orgs) - 2, existing=2)


def test_an_invalid_organisation_is_named_with_its_field_and_nothing_is_created(
        app: Flask, tmp_path: Path) -> None:
    good, bad = raw_organisations()[:2]
    bad = {**bad, "contacts": [{**bad["contacts"][0], "email": "not an address"}, *bad["contacts"][1:]]}
    path = tmp_path / "broken.json"
    path.write_text(json.dumps({"organisations": [good, bad]}), encoding="utf-8")

    with pytest.raises(InvalidInput) as caught:
        seeding.load(path)

    assert bad["name"] in caught.value.message
    assert "organisations[1].contacts.0.email" in caught.value.errors
    assert Organisation.select().count() == 0
    assert EntryVersion.select().count() == 0


@pytest.mark.parametrize(("content", "field"), [
    ("[]", "organisations"),
    ('{"organisations": [{"name": "No uuid"}]}', "organisations[0].uuid"),
    ('{"organisations": [{"uuid": "0B5E6F0C-2D1A-4C3E-9F57-8A3D2C1B0E4F"}]}', "organisations[0].uuid"),
    ('{"organisations": [{"uuid": "0b5e6f0c-2d1a-4c3e-9f57-8a3d2c1b0e4f"},'
     ' {"uuid": "0b5e6f0c-2d1a-4c3e-9f57-8a3d2c1b0e4f"}]}', "organisations[1].uuid"),
    ('{"organisations": [], "organisations": []}', "file"),
    ("{not json", "file"),
])
def test_a_malformed_seed_file_is_refused(tmp_path: Path, content: str, field: str) -> None:
    path = tmp_path / "seed.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        seeding.read(path)
    assert field in caught.value.errors


def test_a_missing_seed_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read seed file"):
        seeding.read(tmp_path / "absent.json")
