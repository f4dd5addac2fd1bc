"""Publisher edits from web forms: form fields → entry changes → one new signed version.

No Flask here: the views hand over the submitted fields as a plain dict. Changes go through the same
input schema as the API (`documents.load`) and through `entries.update` with the version the publisher
was looking at, so an edit made on a stale page is refused instead of silently overwriting a newer one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from marshmallow import ValidationError

from directory import documents, entries, signatures
from directory.actors import Actor
from directory.entries import VersionInfo
from directory.errors import Forbidden, InvalidInput
from directory.vocabulary import REQUESTING_KINDS

ORG_FIELDS = ("name", "legal_name", "website", "switchboard_phone", "timezone")
LIST_FIELDS = ("official_email_domains", "languages", "domains")
CONTACT_FIELDS = ("display_name", "title", "email")
CONTACT_LISTS = ("phones", "languages")
MAX_NEW_CONTACTS = 1


def split(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


def joined(values: list[Any] | None) -> str:
    return ", ".join(str(v) for v in values or [])


def organisation_form(doc: Mapping[str, Any]) -> dict[str, str]:
    values = {name: str(doc.get(name) or "") for name in ORG_FIELDS}
    values.update({name: joined(doc.get(name)) for name in LIST_FIELDS})
    values["description"] = str(doc.get("programme", {}).get("description", ""))
    return values


def _loaded(changes: dict[str, Any]) -> dict[str, Any]:
    try:
        return documents.load(changes, partial=True)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"form": exc.messages}
        raise InvalidInput("some fields are not valid; see below", documents.error_paths(messages)) from None


def save_organisation(entry_id: str, form: Mapping[str, str], version: int, actor: Actor) -> VersionInfo:
    _may_edit(entry_id, actor)
    doc = entries.get_document(entry_id)
    changes: dict[str, Any] = {name: form.get(name, "").strip() for name in ORG_FIELDS}
    changes["legal_name"] = changes["legal_name"] or None  # optional: emptying it removes it
    changes.update({name: split(form.get(name, "")) for name in LIST_FIELDS})
    programme = dict(doc.get("programme", {}))
    description = form.get("description", "").strip()
    if description:
        programme["description"] = description
    else:
        programme.pop("description", None)
    changes["programme"] = programme
    return entries.update(entry_id, _loaded(changes), actor, if_version=version)


def contacts_form(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for contact in doc.get("contacts", []):
        row: dict[str, Any] = {name: str(contact.get(name) or "") for name in CONTACT_FIELDS}
        row.update({name: joined(contact.get(name)) for name in CONTACT_LISTS})
        types = contact.get("authorised_request_types") or contact.get("handles_request_types") or []
        row.update(types=types, emergency=bool(contact.get("emergency")))
        row.update(contact_id=contact["contact_id"], active=contact.get("active", True),
                   ldap=str(contact.get("source", "manual")).startswith("ldap:"),
                   source=contact.get("source", "manual"))
        out.append(row)
    return out


class Form(Protocol):
    """Submitted fields; a name may repeat (checkboxes), as in werkzeug's MultiDict."""

    def getlist(self, key: str) -> list[str]: ...


def _one(form: Form, key: str) -> str:
    values = form.getlist(key)
    return values[0] if values else ""


def types_field(kind: str) -> str:
    """Requesting organisations' contacts are authorised for request types; the others handle them."""
    return "authorised_request_types" if kind in REQUESTING_KINDS else "handles_request_types"


def save_contacts(entry_id: str, form: Form, version: int, actor: Actor) -> VersionInfo:
    """Edited, removed and at most one new contact; LDAP-owned contacts are passed through untouched."""
    _may_edit(entry_id, actor)
    doc = entries.get_document(entry_id)
    types = types_field(doc["kind"])
    contacts: list[dict[str, Any]] = []
    for index, contact in enumerate(doc.get("contacts", [])):
        if contact.get("source", "manual").startswith("ldap:"):
            contacts.append({"contact_id": contact["contact_id"]})
            continue
        if _one(form, f"c{index}-remove"):
            continue
        contacts.append({"contact_id": contact["contact_id"], **_contact_fields(form, f"c{index}-", types)})
    if _one(form, "new-display_name").strip() or _one(form, "new-email").strip():
        contacts.append(_contact_fields(form, "new-", types))
    return entries.update(entry_id, _loaded({"contacts": contacts}), actor, if_version=version)


def _contact_fields(form: Form, prefix: str, types: str) -> dict[str, Any]:
    fields: dict[str, Any] = {name: _one(form, prefix + name).strip() for name in CONTACT_FIELDS}
    fields["title"] = fields["title"] or None
    fields.update({name: split(_one(form, prefix + name)) for name in CONTACT_LISTS})
    fields[types] = form.getlist(prefix + "types")
    fields["emergency"] = _one(form, prefix + "emergency") == "1"
    return fields


def confirm(entry_id: str, version: int, actor: Actor) -> VersionInfo:
    """The publisher says the entry is still accurate: a new version with fresh confirmed_at."""
    _may_edit(entry_id, actor)
    return entries.update(entry_id, {}, actor, if_version=version, confirm=True)


def attach_signature(entry_id: str, version: int, signature: str, actor: Actor) -> list[dict[str, Any]]:
    if not signature.strip():
        raise InvalidInput("paste the armored detached signature", {"signature": ["required"]})
    return signatures.attach(entry_id, version, signature, actor)


def _may_edit(entry_id: str, actor: Actor) -> None:
    if not actor.can_edit(entry_id):
        raise Forbidden("you may not change this organisation")
