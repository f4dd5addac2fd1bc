"""The entry document: its input schema, its validation and the views served from it.

Every source of entries (the API, the web pages, the seeds, LDAP sync) loads its input through these
marshmallow schemas, so one set of rules decides what an entry may contain. Unknown fields are rejected;
fields the server owns (`id`, `registrar`, `version`, `prev`, `iat`, `confirmed_at`, contact `source`,
`source_id`, `verified_at`) are not part of any input schema. Times are integer epoch seconds inside the
signed document (DESIGN.md) and ISO 8601 in the API views.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates,
    validates_schema,
)

from directory import hours, runtime, validators
from directory.vocabulary import (
    CHANNEL_KINDS,
    CONTACT_KINDS,
    DATA_CATEGORIES,
    ORGANISATION_KINDS,
    PRIORITY_LEVELS,
    REQUEST_TYPES,
    SERVICE_TYPES,
)

TYP = "cpd.entry.v1"
CLOCK_SKEW_SECONDS = 300  # tolerated between the clocks of a publisher, this node and its peers
TOMBSTONE_TYP = "cpd.tombstone.v1"

_CONTROL = {chr(c) for c in range(32) if chr(c) not in "\n\t"} | {chr(c) for c in range(127, 160)}
# Bidirectional embeddings, overrides and isolates make text display in another order than it is stored
# ("Trojan Source"): a name could read as another organisation's, a number as another number. Right-to-
# left names need none of them (the marks U+200E/U+200F stay allowed).
_BIDI_CONTROL = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class Text(fields.String):
    """Unicode text in NFC without control characters (multi-line when `multiline`), length-capped."""

    def __init__(self, max_length: int = 300, multiline: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_length = max_length
        self.multiline = multiline

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = unicodedata.normalize("NFC", super()._deserialize(value, attr, data, **kwargs))
        # U+2028/U+2029 end a line in many renderers (and in JavaScript strings): never in one-line text.
        bad = _CONTROL if self.multiline else _CONTROL | {"\n", "\t", "\u2028", "\u2029"}
        if any(ch in bad for ch in text) or any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
            raise ValidationError("contains control characters")
        if any(ch in _BIDI_CONTROL for ch in text):
            raise ValidationError("contains bidirectional override characters (they change how text reads)")
        if len(text) > self.max_length:
            raise ValidationError(f"longer than {self.max_length} characters")
        # Spaces and invisible format characters alone (U+200B, U+2060 ...) would show as an empty name.
        if all(unicodedata.category(ch)[0] in "ZC" for ch in text):
            raise ValidationError("must not be empty")
        return text


class Checked(fields.String):
    """A string normalised by one of `directory.validators` (ValueError becomes a field error)."""

    def __init__(self, check: Callable[[str], str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        if len(raw) > 2000:
            raise ValidationError("too long")
        try:
            return self.check(raw)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class Asn(fields.Integer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        number = super()._deserialize(value, attr, data, **kwargs)
        try:
            return validators.asn(number)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class EpochTime(fields.Field[int]):
    """ISO 8601 with an explicit offset on input; integer epoch seconds in the document."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if not isinstance(value, str):
            raise ValidationError("a date-time in ISO 8601 form with a time zone offset")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError("a date-time in ISO 8601 form with a time zone offset") from None
        if parsed.tzinfo is None:
            raise ValidationError("the date-time needs a time zone offset (e.g. Z or +02:00)")
        try:
            # 0001-01-01T00:00+14:00 is in UTC year 0: every view shows times in UTC, and could not.
            parsed.astimezone(UTC)
        except OverflowError:
            raise ValidationError("the date-time is out of range") from None
        return int(parsed.timestamp())

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else iso(value)


class WorkingHours(fields.Dict):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ValidationError("an object with `weekly` hours")
        problems = hours.validate_hours(value, prefix="")
        if problems:
            raise ValidationError(problems)
        return hours.normalise_hours(value)


def _list(inner: fields.Field[Any], most: int = 50, **kwargs: Any) -> fields.List[Any]:
    return fields.List(inner, validate=validate.Length(max=most), **kwargs)


def _choice(values: tuple[str, ...], **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.OneOf(values), **kwargs)


class Strict(Schema):
    class Meta:
        unknown = RAISE

    @post_load
    def _to_document_form(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        result: dict[str, Any] = _plain(data)
        return result


class AltName(Strict):
    lang = Checked(validators.language, required=True)
    name = Text(required=True)


class Procedure(Strict):
    request_type = _choice(REQUEST_TYPES, required=True)
    url = Checked(validators.url)
    text = Text(max_length=4000, multiline=True)


class Documentation(Strict):
    legal_basis = Text(max_length=2000, multiline=True)
    reference_number_required = fields.Boolean()
    format = Text(max_length=2000, multiline=True)
    other = Text(max_length=2000, multiline=True)


class ResponseTime(Strict):
    request_type = _choice(REQUEST_TYPES, required=True)
    priority = _choice(PRIORITY_LEVELS, load_default="routine")
    typical_hours = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=8760))


class IncidentReporting(Strict):
    url = Checked(validators.url)
    email = Checked(validators.email)
    phone = Checked(validators.phone)


class Programme(Strict):
    description = Text(max_length=8000, multiline=True)
    procedures = _list(fields.Nested(Procedure))
    documentation = fields.Nested(Documentation)
    translation_languages = _list(Checked(validators.language))
    foreign_cooperation = Text(max_length=4000, multiline=True)
    priority_levels = _list(_choice(PRIORITY_LEVELS))
    response_times = _list(fields.Nested(ResponseTime))
    feedback_channel = Text(max_length=1000, multiline=True)
    incident_reporting = fields.Nested(IncidentReporting)
    preservation_notice = Text(max_length=4000, multiline=True)
    mla_procedure_url = Checked(validators.url)


class DataCategory(Strict):
    category = _choice(DATA_CATEGORIES, required=True)
    description = Text(max_length=2000, multiline=True)
    retention_days = fields.Integer(strict=True, validate=validate.Range(min=0, max=36500))


class Service(Strict):
    name = Text(required=True)
    type = _choice(SERVICE_TYPES, required=True)
    urls = _list(Checked(validators.url), most=20)
    data_categories = _list(fields.Nested(DataCategory), most=20)


_CHANNEL_CHECKS: dict[str, Callable[[str], str]] = {
    "phone": validators.phone, "email": validators.email, "portal": validators.url}


class EmergencyChannel(Strict):
    kind = _choice(CHANNEL_KINDS, required=True)
    value = fields.String(required=True)
    conditions = Text(max_length=2000, multiline=True, required=True)
    languages = _list(Checked(validators.language))
    always_open = fields.Boolean(load_default=True)
    working_hours = WorkingHours()
    last_tested_at = EpochTime()

    @validates("last_tested_at")
    def _tested_already(self, value: int | None, **kwargs: Any) -> None:
        # A test "in the future" would hold off the freshness warnings about this line until then.
        if value is not None and value > runtime.now() + CLOCK_SKEW_SECONDS:
            raise ValidationError("a test cannot have happened in the future")

    @validates_schema
    def _value_fits_kind(self, data: dict[str, Any], **kwargs: Any) -> None:
        check = _CHANNEL_CHECKS.get(data.get("kind", ""))
        if check is None:
            return
        try:
            data["value"] = check(data["value"])
        except ValueError as exc:
            raise ValidationError({"value": [str(exc)]}) from None


class ContactIn(Strict):
    contact_id = fields.UUID()
    kind = _choice(CONTACT_KINDS, load_default="person")
    display_name = Text(required=True)
    title = Text(allow_none=True)
    email = Checked(validators.email, required=True)
    phones = _list(Checked(validators.phone), most=10)
    languages = _list(Checked(validators.language), most=20)
    working_hours = WorkingHours(allow_none=True)
    authorised_request_types = _list(_choice(REQUEST_TYPES))
    handles_request_types = _list(_choice(REQUEST_TYPES))
    emergency = fields.Boolean(load_default=False)
    key_fingerprints = _list(Checked(validators.fingerprint), most=10)
    trained_on = fields.Date(allow_none=True)
    active = fields.Boolean(load_default=True)

    @pre_load
    def _refuse_server_owned(self, data: Any, **kwargs: Any) -> Any:
        return _refuse(data, CONTACT_SERVER_OWNED)


class KeyIn(Strict):
    public_key = fields.String(required=True, validate=validate.Length(max=100_000))
    use = _choice(("organisation", "contact"), load_default="organisation")


class OrganisationIn(Strict):
    """What a client may send to create an organisation; PATCH loads a subset (partial)."""

    kind = _choice(ORGANISATION_KINDS, required=True)
    name = Text(required=True)
    alt_names = _list(fields.Nested(AltName), most=20)
    country = Checked(validators.country, required=True)
    legal_name = Text(allow_none=True)
    registration_id = Text(max_length=100, allow_none=True)
    website = Checked(validators.url, required=True)
    switchboard_phone = Checked(validators.phone, required=True)
    official_email_domains = _list(Checked(validators.domain), most=20)
    languages = _list(Checked(validators.language), most=30)
    timezone = Checked(validators.timezone, required=True)
    working_hours = WorkingHours()
    programme = fields.Nested(Programme)
    asns = _list(Asn(), most=1000)
    ip_prefixes = _list(Checked(validators.ip_prefix), most=5000)
    domains = _list(Checked(validators.domain), most=5000)
    services = _list(fields.Nested(Service))
    emergency_channels = _list(fields.Nested(EmergencyChannel), most=10)
    contacts = _list(fields.Nested(ContactIn), most=500)
    keys = _list(fields.Nested(KeyIn), most=50)
    not_after = EpochTime()

    @pre_load
    def _refuse_server_owned(self, data: Any, **kwargs: Any) -> Any:
        return _refuse(data, SERVER_OWNED)


def _refuse(data: Any, owned_names: tuple[str, ...]) -> Any:
    if not isinstance(data, dict):
        raise ValidationError("must be a JSON object")
    owned = sorted(set(data) & set(owned_names))
    if owned:
        raise ValidationError({name: ["set by the server; cannot be sent"] for name in owned})
    return data


CONTACT_SERVER_OWNED = ("source", "source_id", "verified_at")
SERVER_OWNED = ("id", "entry_id", "typ", "registrar", "version", "prev", "iat", "confirmed_at",
                "deleted", "status", "signatures")
# Contact fields an LDAP source owns; a manual edit of these on an LDAP contact is refused (409).
LDAP_OWNED = ("display_name", "email", "phones", "title", "languages", "authorised_request_types",
              "handles_request_types", "emergency", "active")


def load(data: Any, *, partial: bool = False) -> dict[str, Any]:
    """Validate client input; raises marshmallow.ValidationError with errors keyed by field path."""
    loaded: dict[str, Any] = OrganisationIn().load(data, partial=partial)
    return loaded



def _plain(value: Any) -> Any:
    """UUIDs and dates to strings, so the result is ready for canonical JSON."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value.__class__.__name__ == "UUID":
        return str(value)
    return value


def error_paths(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages by dotted path: {"contacts.1.email": [message, ...]} (under
    `prefix`, e.g. "organisations[3].contacts.1.email")."""
    def under(key: Any) -> str:
        return f"{prefix}.{key}" if prefix else str(key)

    if isinstance(messages, dict):
        out: dict[str, list[str]] = {}
        for key, value in messages.items():
            out.update(error_paths(value, under(key)))
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix: list(messages)}
    if isinstance(messages, list):
        out = {}
        for index, value in enumerate(messages):
            out.update(error_paths(value, under(index)))
        return out
    return {prefix: [str(messages)]}


@lru_cache(maxsize=4096)  # a sync stamps thousands of contacts with the same few times
def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def view(doc: dict[str, Any], level: str) -> dict[str, Any]:
    """The API representation of a document at `public`, `reader` or `full` level.

    public: organisation-level fields only — no contacts, and emergency channels without their numbers
    (that a channel exists, and its conditions, are public; DESIGN.md). reader: active contacts.
    full (publishers of the organisation, admins): every contact, with `active`.
    """
    out: dict[str, Any] = {"id": doc["entry_id"]}
    for key, value in doc.items():
        if key in {"entry_id", "typ"}:
            continue
        out[key] = value
    for key in ("iat", "not_after", "confirmed_at"):
        out[key] = iso(doc[key])
    out["emergency_channels"] = [_channel(ch, level) for ch in doc.get("emergency_channels", [])]
    if level == "public":
        out.pop("contacts", None)
    else:
        contacts = doc.get("contacts", [])
        if level == "reader":
            contacts = [c for c in contacts if c.get("active", True)]
        out["contacts"] = [_contact(c) for c in contacts]
    return out


def _channel(channel: dict[str, Any], level: str) -> dict[str, Any]:
    out = dict(channel)
    if level == "public":
        out.pop("value", None)
    if out.get("last_tested_at") is not None:
        out["last_tested_at"] = iso(out["last_tested_at"])
    return out


def _contact(contact: dict[str, Any]) -> dict[str, Any]:
    out = dict(contact)
    if out.get("verified_at") is not None:
        out["verified_at"] = iso(out["verified_at"])
    return out
