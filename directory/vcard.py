"""A designated contact as a vCard 4.0 (RFC 6350), for an officer's address book.

Values are escaped per RFC 6350 3.4 and lines folded at 75 octets without splitting a UTF-8 character.
The card carries the contact's work email and phones, languages, the organisation, its time zone and
website, and the OpenPGP keys listed for the contact (as data URIs), so a request can be encrypted to
the right key from the address book.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

CRLF = "\r\n"


def contact_card(organisation: dict[str, Any], contact: dict[str, Any]) -> str:
    """The vCard text of one contact of an organisation's reader view."""
    lines = ["BEGIN:VCARD", "VERSION:4.0", "PRODID:-//cpd//contact-point directory//EN",
             f"UID:urn:uuid:{contact['contact_id']}",
             f"KIND:{'individual' if contact.get('kind', 'person') == 'person' else 'org'}",
             f"FN:{escape(contact['display_name'])}", f"ORG:{escape(organisation['name'])}"]
    if contact.get("title"):
        lines.append(f"TITLE:{escape(contact['title'])}")
    lines.append(f"EMAIL;TYPE=work:{escape(contact['email'])}")
    lines += [f"TEL;VALUE=uri;TYPE=work,voice:tel:{phone}" for phone in contact.get("phones", [])]
    lines += [f"LANG;PREF={rank}:{lang}" for rank, lang in enumerate(contact.get("languages", []), 1)]
    lines.append(f"TZ:{escape(organisation['timezone'])}")
    lines.append(f"URL;TYPE=work:{organisation['website']}")
    listed = set(contact.get("key_fingerprints", []))
    for key in organisation.get("keys", []):
        if key["fingerprint"] in listed:
            # UTF-8: armor headers are free text (`Comment: Jürgen's key`); the key is the same.
            data = base64.b64encode(key["public_key"].encode("utf-8")).decode("ascii")
            lines.append(f"KEY;MEDIATYPE=application/pgp-keys:data:application/pgp-keys;base64,{data}")
    if contact.get("authorised_request_types") or contact.get("handles_request_types"):
        kinds = contact.get("authorised_request_types") or contact.get("handles_request_types") or []
        lines.append("NOTE:" + escape("Request types: " + ", ".join(k.replace("_", " ") for k in kinds)))
    lines.append(f"REV:{_rev(organisation.get('iat'))}")
    lines.append("END:VCARD")
    return "".join(fold(line) + CRLF for line in lines)


def escape(value: str) -> str:
    return (value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
            .replace("\r\n", "\\n").replace("\n", "\\n"))


def fold(line: str, limit: int = 75) -> str:
    """Fold a content line at `limit` octets (continuation lines start with one space)."""
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for ch in line:
        width = len(ch.encode("utf-8"))
        budget = limit if not parts else limit - 1
        if size + width > budget:
            parts.append("".join(current))
            current, size = [], 0
        current.append(ch)
        size += width
    parts.append("".join(current))
    return (CRLF + " ").join(parts)


def _rev(iat: str | None) -> str:
    moment = datetime.fromisoformat(iat.replace("Z", "+00:00")) if iat else datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
