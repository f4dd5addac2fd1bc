"""Query-argument and response schemas of the HTTP API (input documents live in `directory.documents`).

Responses are served from precomputed JSON views; these schemas describe them in the OpenAPI document.
"""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from directory import documents, validators
from directory.vocabulary import ORGANISATION_KINDS, REQUEST_TYPES


class Query(Schema):
    class Meta:
        # webargs ignores unknown query parameters by default (TRAPS.md 19): a misspelt filter must
        # not silently return everything.
        unknown = RAISE


class PageArgs(Query):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=None, validate=validate.Range(min=1))


class OrganisationFilters(PageArgs):
    # Normalised as stored (DE, en): `country=de` or `language=EN` must not answer an empty list.
    country = documents.Checked(validators.country, validate=validate.Length(equal=2))
    kind = fields.String(validate=validate.OneOf(ORGANISATION_KINDS))
    registrar = fields.String(validate=validate.Length(max=200))
    language = documents.Checked(validators.language, validate=validate.Length(max=35))
    service_type = fields.String(validate=validate.Length(max=40))
    request_type = fields.String(validate=validate.OneOf(REQUEST_TYPES))
    name = fields.String(validate=validate.Length(min=1, max=200))


class OrganisationOut(Schema):
    """An organisation as the caller may see it: contacts only for signed-in readers."""

    id = fields.String()
    registrar = fields.String()
    version = fields.Integer()
    prev = fields.String(allow_none=True)
    iat = fields.String()
    not_after = fields.String()
    confirmed_at = fields.String()
    kind = fields.String()
    name = fields.String()
    alt_names = fields.List(fields.Dict())
    country = fields.String()
    website = fields.String()
    switchboard_phone = fields.String()
    official_email_domains = fields.List(fields.String())
    languages = fields.List(fields.String())
    timezone = fields.String()
    working_hours = fields.Dict()
    programme = fields.Dict()
    asns = fields.List(fields.Integer())
    ip_prefixes = fields.List(fields.String())
    domains = fields.List(fields.String())
    services = fields.List(fields.Dict())
    emergency_channels = fields.List(fields.Dict())
    contacts = fields.List(fields.Dict(), metadata={"description": "readers and above only"})
    keys = fields.List(fields.Dict())
    status = fields.String(metadata={"description": "fresh, due, stale, source_stale or expired, now"})
    status_reasons = fields.List(fields.String(), metadata={"description": "why, in plain language"})
    legal_name = fields.String(allow_none=True)
    registration_id = fields.String(allow_none=True)
    signatures = fields.List(fields.Dict(), metadata={"description": "each signature's status"})


class Paged(Schema):
    """One page of a list (`directory.paging.Page`); subclasses name the items."""

    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class OrganisationPage(Paged):
    items = fields.List(fields.Nested(OrganisationOut))


class VersionMeta(Schema):
    version = fields.Integer()
    digest = fields.String()
    prev = fields.String(allow_none=True)
    iat = fields.String()
    tombstone = fields.Boolean()
    changed_by = fields.String(allow_none=True)
    signers = fields.List(fields.String())


class ContactOut(Schema):
    contact_id = fields.String()
    kind = fields.String()
    display_name = fields.String()
    title = fields.String(allow_none=True)
    email = fields.String()
    phones = fields.List(fields.String())
    languages = fields.List(fields.String())
    authorised_request_types = fields.List(fields.String())
    handles_request_types = fields.List(fields.String())
    emergency = fields.Boolean()
    key_fingerprints = fields.List(fields.String())
    source = fields.String()
    active = fields.Boolean()
    source_id = fields.String(allow_none=True, metadata={"description": "stable LDAP id of a synced contact"})
    verified_at = fields.String(allow_none=True, metadata={"description": "last seen by its LDAP source"})
    working_hours = fields.Dict(allow_none=True)
    trained_on = fields.String(allow_none=True)


class AccountIn(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(required=True, validate=validate.OneOf(("admin", "publisher", "reader")))
    organisations = fields.List(fields.String(validate=validate.Length(max=200)), load_default=list)
    email = fields.String(load_default=None, validate=validate.Length(max=320),
                          metadata={"description": "where this account's reminders and alerts go"})


class AccountChanges(Schema):
    class Meta:
        unknown = RAISE

    disabled = fields.Boolean(required=True, metadata={
        "description": "true: the account's tokens and web sessions stop working at once"})


class AccountOut(Schema):
    id = fields.Integer()
    name = fields.String()
    role = fields.String()
    disabled = fields.Boolean()
    email = fields.String(allow_none=True)
    organisations = fields.List(fields.String())
    token = fields.String(metadata={"description": "shown once, at creation"})


class AccountPage(Paged):
    items = fields.List(fields.Nested(AccountOut))


class OrganisationChanges(documents.OrganisationIn):
    """PATCH body: any subset of the organisation's fields (a distinct name for the OpenAPI document)."""


class ContactChanges(documents.ContactIn):
    """PATCH body of a contact: any subset of its fields."""


class SignatureStatus(Schema):
    signer = fields.String()
    key_fpr = fields.String()
    role = fields.String(metadata={"description": "registrar (the node) or organisation"})
    status = fields.String(
        metadata={"description": "valid | invalid | key_expired | key_revoked | unknown_key"})
    reason = fields.String()


class SignatureIn(Schema):
    class Meta:
        unknown = RAISE

    signature = fields.String(
        required=True, validate=validate.Length(min=1, max=20_000),
        metadata={"description": "armored detached signature (gpg --detach-sign --armor)"})


class EnvelopeOut(Schema):
    payload = fields.String(metadata={"description": "base64url of the exact canonical bytes"})
    signatures = fields.List(fields.Dict())
