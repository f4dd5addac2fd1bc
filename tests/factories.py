"""Data factories: valid input documents with overrides, so tests state only what they are about."""

from __future__ import annotations

import copy
from typing import Any

_ORGANISATION: dict[str, Any] = {
    "kind": "service_provider",
    "name": "Example Telecom",
    "alt_names": [{"lang": "de", "name": "Beispiel Telekom"}],
    "country": "DE",
    "website": "https://www.telecom.example",
    "switchboard_phone": "+49 30 901820",
    "official_email_domains": ["telecom.example"],
    "languages": ["de", "en"],
    "timezone": "Europe/Berlin",
    "working_hours": {"weekly": {d: [["08:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
                      "holidays_country": "DE"},
    "asns": [64500],
    "ip_prefixes": ["192.0.2.0/24", "2001:db8:100::/48"],
    "domains": ["telecom.example"],
    "services": [{"name": "Mail", "type": "email",
                  "data_categories": [{"category": "subscriber", "retention_days": 180}]}],
    "emergency_channels": [{"kind": "phone", "value": "+49 30 901821", "conditions": "Threat to life only",
                            "always_open": True}],
    "contacts": [{"display_name": "Erika Mustermann", "email": "erika.mustermann@telecom.example",
                  "phones": ["+49 30 901822"], "languages": ["de"], "title": "Law enforcement liaison",
                  "handles_request_types": ["subscriber_info", "preservation"]}],
}


def organisation(**overrides: Any) -> dict[str, Any]:
    data = copy.deepcopy(_ORGANISATION)
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def police(**overrides: Any) -> dict[str, Any]:
    base = {
        "kind": "law_enforcement", "name": "Example Police Cybercrime Unit", "country": "AZ",
        "website": "https://police.example.org", "switchboard_phone": "+994 12 590 00 00",
        "official_email_domains": ["police.example.org"], "timezone": "Asia/Baku", "languages": ["az", "en"],
        "asns": None, "ip_prefixes": None, "domains": None, "services": None, "alt_names": None,
        "working_hours": {"weekly": {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}},
        "contacts": [{"display_name": "Officer Aysel Mammadova", "email": "a.mammadova@police.example.org",
                      "authorised_request_types": ["subscriber_info", "preservation"]}],
    }
    base.update(overrides)
    return organisation(**base)
