"""The fixed vocabularies of the entry model (DESIGN.md: Data model).

Kept as tuples so the API schema, the validators and the seeds all read one list; extending a vocabulary
is a one-line change here plus a migration-free schema update (values are stored as text).
"""

from __future__ import annotations

ORGANISATION_KINDS = (
    "law_enforcement",
    "service_provider",
    "point_of_contact_24_7",
    "judicial_authority",
    "association",
)

# Kinds whose contacts *issue* requests (authorised_request_types, §22); the others *handle* them.
REQUESTING_KINDS = frozenset({"law_enforcement", "point_of_contact_24_7", "judicial_authority"})

REQUEST_TYPES = (
    "preservation",
    "subscriber_info",
    "traffic_data",
    "content_data",
    "emergency_disclosure",
    "takedown",
    "mutual_legal_assistance",
)

DATA_CATEGORIES = ("subscriber", "traffic", "content", "other")

SERVICE_TYPES = (
    "fixed_access",
    "mobile_access",
    "email",
    "hosting",
    "cloud",
    "domain_registration",
    "messaging",
    "social_network",
    "cdn",
    "vpn",
    "other",
)

CHANNEL_KINDS = ("phone", "email", "portal")

CONTACT_KINDS = ("person", "role")

PRIORITY_LEVELS = ("routine", "urgent", "emergency")
