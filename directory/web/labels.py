"""Words people read for the directory's vocabulary values (kinds, request types, statuses …).

The stored values stay English identifiers; pages show these labels, translated (`label(group, value)`).
An unknown value is shown as it is rather than hidden.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

LABELS: dict[str, dict[str, Any]] = {
    "kind": {
        "law_enforcement": _l("Law enforcement"),
        "service_provider": _l("Service provider"),
        "point_of_contact_24_7": _l("24/7 point of contact"),
        "judicial_authority": _l("Judicial authority"),
        "association": _l("Association"),
    },
    "request_type": {
        "preservation": _l("Preservation"),
        "subscriber_info": _l("Subscriber information"),
        "traffic_data": _l("Traffic data"),
        "content_data": _l("Content data"),
        "emergency_disclosure": _l("Emergency disclosure"),
        "takedown": _l("Takedown"),
        "mutual_legal_assistance": _l("Mutual legal assistance"),
    },
    "status": {
        "fresh": _l("Fresh"),
        "due": _l("Due for review"),
        "stale": _l("Stale"),
        "expired": _l("Expired"),
        "source_stale": _l("Source not current"),
    },
    "category": {
        "subscriber": _l("Subscriber data"),
        "traffic": _l("Traffic data"),
        "content": _l("Content data"),
        "other": _l("Other data"),
    },
    "channel": {"phone": _l("Phone"), "email": _l("Email"), "portal": _l("Web portal")},
    "signature": {
        "registrar": _l("Signed by the registrar node"),
        "organisation": _l("Signed by the organisation"),
    },
    "signature_status": {
        "valid": _l("valid"),
        "invalid": _l("not valid"),
        "unknown_key": _l("key not listed for this entry"),
        "key_expired": _l("key expired"),
        "key_revoked": _l("key revoked"),
    },
    "weekday": {
        "mon": _l("Monday"), "tue": _l("Tuesday"), "wed": _l("Wednesday"), "thu": _l("Thursday"),
        "fri": _l("Friday"), "sat": _l("Saturday"), "sun": _l("Sunday"),
    },
    "lookup": {"ip": _l("IP address"), "asn": _l("AS number"), "domain": _l("domain"),
               "email": _l("email address")},
    "priority": {"routine": _l("Routine"), "urgent": _l("Urgent"), "emergency": _l("Emergency")},
}


def label(group: str, value: Any) -> str:
    found = LABELS.get(group, {}).get(value)
    return str(found) if found is not None else str(value)
