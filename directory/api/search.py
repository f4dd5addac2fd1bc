"""/api/v1/search, /search.csv, /resolve, /verify and a contact's vCard: HTTP only, domain calls inside.

Anonymous search and resolve are rate-limited per client address (`directory.ratelimit`); the CSV
export, the vCard and verification need a reader account, are audited and count against the quota.
The CSV export is its own path (`/search.csv`, same query arguments as `/search` except paging, at most
1000 rows) so each operation keeps one success response in the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from directory import documents, organisations, ratelimit, resolve, search, validators, vcard, verify
from directory.api.auth import current_actor, require_account
from directory.api.common import Blueprint, json_response, per_page
from directory.api.schemas import PageArgs, Paged, Query
from directory.errors import Forbidden, NotFound
from directory.vocabulary import ORGANISATION_KINDS, REQUEST_TYPES, SERVICE_TYPES

blp = Blueprint("search", __name__, url_prefix="/api/v1",
                description="Finding a counterpart (search, resolve) and verifying a requester")


class _Zone(Schema):
    tz = fields.String(metadata={"description": "your IANA time zone for reachable-now times"})

    @validates("tz")
    def _known_zone(self, value: str, **kwargs: Any) -> None:
        try:
            validators.timezone(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class ExportArgs(Query, _Zone):
    q = fields.String(load_default="", validate=validate.Length(max=200),
                      metadata={"description": "free text: names in any language, services, domains"})
    # Normalised as stored (DE, en), like the organisation list's filters.
    country = documents.Checked(validators.country, validate=validate.Length(equal=2))
    kind = fields.String(validate=validate.OneOf(ORGANISATION_KINDS))
    language = documents.Checked(validators.language, validate=validate.Length(max=35))
    service_type = fields.String(validate=validate.OneOf(SERVICE_TYPES))
    request_type = fields.String(validate=validate.OneOf(REQUEST_TYPES))
    emergency = fields.Boolean(load_default=False)
    open_now = fields.Boolean(load_default=False)
    include_expired = fields.Boolean(load_default=False)


class SearchArgs(ExportArgs, PageArgs):
    pass


class ResolveArgs(Query, _Zone):
    ip = fields.String(validate=validate.Length(max=64))
    asn = fields.String(validate=validate.Length(max=16))
    domain = fields.String(validate=validate.Length(max=253))
    email = fields.String(validate=validate.Length(max=320))
    include_expired = fields.Boolean(load_default=False)


class VerifyIn(Schema):
    class Meta:
        unknown = RAISE

    email = fields.String(validate=validate.Length(max=verify.LIMITS["email"]))
    phone = fields.String(validate=validate.Length(max=verify.LIMITS["phone"]))
    request_type = fields.String(validate=validate.OneOf(REQUEST_TYPES))
    signed_message = fields.String(validate=validate.Length(max=verify.LIMITS["signed_message"]),
                                   metadata={"description": "an armored clearsigned message"})
    data = fields.String(validate=validate.Length(max=verify.LIMITS["data"]),
                         metadata={"description": "the signed text, with `signature` (detached)"})
    signature = fields.String(validate=validate.Length(max=verify.LIMITS["signature"]))


class Reachable(Schema):
    open_now = fields.Boolean()
    always_open = fields.Boolean()
    reason = fields.String()
    timezone = fields.String()
    closes_at = fields.String(allow_none=True)
    next_open = fields.String(allow_none=True)
    caller_timezone = fields.String()
    caller_closes_at = fields.String(allow_none=True)
    caller_next_open = fields.String(allow_none=True)


class SearchItem(Schema):
    id = fields.String()
    registrar = fields.String()
    version = fields.Integer()
    name = fields.String()
    alt_names = fields.List(fields.Dict())
    kind = fields.String()
    country = fields.String()
    website = fields.String()
    switchboard_phone = fields.String()
    languages = fields.List(fields.String())
    official_email_domains = fields.List(fields.String())
    service_types = fields.List(fields.String())
    emergency_channel = fields.Boolean()
    timezone = fields.String()
    not_after = fields.String()
    confirmed_at = fields.String()
    status = fields.String()
    status_reasons = fields.List(fields.String())
    reachable = fields.Nested(Reachable)


class SearchPage(Paged):
    items = fields.List(fields.Nested(SearchItem))


class ResolveMatch(Schema):
    organisation = fields.Nested(SearchItem)
    matched = fields.Dict(metadata={"description": "by ip (prefix), asn, domain or email (domain, roles)"})
    reachable = fields.Nested(Reachable)
    emergency_channels = fields.List(fields.Dict())
    requirements = fields.Dict(metadata={"description": "what a request must contain"})
    keys = fields.List(fields.Dict())
    contacts = fields.List(fields.Dict(), metadata={"description": "readers only, each with `reachable`"})


class ResolveOut(Schema):
    query = fields.Dict()
    matches = fields.List(fields.Nested(ResolveMatch))


class CheckOut(Schema):
    check = fields.String()
    ok = fields.Boolean()
    detail = fields.String()


class VerifyOut(Schema):
    verdict = fields.String(metadata={"enum": ["verified", "caution", "not_verified"]})
    checks = fields.List(fields.Nested(CheckOut))
    contact = fields.Dict(allow_none=True)
    organisation = fields.Dict(allow_none=True)
    callback = fields.Dict(metadata={"description": "switchboard_phone and website from the directory"})
    signed_text = fields.String(allow_none=True, metadata={
        "description": "exactly the text a valid signature covers (null without one): compare it with the "
                       "request received; anything else in the message is not signed"})


def _query(args: dict[str, Any]) -> search.Query:
    return search.Query(text=args.get("q", ""), country=args.get("country"), kind=args.get("kind"),
                        language=args.get("language"), service_type=args.get("service_type"),
                        request_type=args.get("request_type"), emergency=args["emergency"],
                        open_now=args["open_now"], include_expired=args["include_expired"], tz=args.get("tz"))


@blp.route("/search")
class Search(MethodView):
    @blp.arguments(SearchArgs, location="query", unknown=RAISE)
    @blp.response(200, SearchPage)
    def get(self, args: dict[str, Any]) -> Response:
        """Search organisations: free text and filters, fresh entries first, reachable-now per result"""
        actor = current_actor()
        ratelimit.spend(actor)
        size = per_page(args.get("per_page"))
        found = search.search(_query(args), actor, args["page"], size)
        return json_response(found.as_dict())


@blp.route("/search.csv")
class SearchExport(MethodView):
    @blp.arguments(ExportArgs, location="query", unknown=RAISE)
    @blp.response(200, {"type": "string"}, content_type="text/csv")
    def get(self, args: dict[str, Any]) -> Response:
        """Search results as CSV with their contacts (readers; at most 1000 rows; audited)"""
        body = search.export_csv(_query(args), require_account())
        return Response(body, mimetype="text/csv", headers={
            "Content-Disposition": 'attachment; filename="directory-search.csv"'})


@blp.route("/resolve")
class Resolve(MethodView):
    @blp.arguments(ResolveArgs, location="query", unknown=RAISE)
    @blp.response(200, ResolveOut)
    def get(self, args: dict[str, Any]) -> Response:
        """Who is responsible for an IP address, AS number, domain or email address"""
        actor = current_actor()
        ratelimit.spend(actor)
        lookup = {k: args[k] for k in resolve.KINDS if k in args}
        return json_response(resolve.resolve(lookup, actor, tz=args.get("tz"),
                                             include_expired=args["include_expired"]))


@blp.route("/verify")
class Verify(MethodView):
    @blp.arguments(VerifyIn)
    @blp.response(200, VerifyOut)
    def post(self, body: dict[str, Any]) -> Response:
        """Verify a requester: a verdict with reasons, and the callback details from the directory"""
        return json_response(verify.verify(verify.Request(**body), require_account()))


@blp.route("/organisations/<entry_id>/contacts/<contact_id>/vcard")
class ContactCard(MethodView):
    @blp.response(200, {"type": "string"}, content_type="text/vcard")
    def get(self, entry_id: str, contact_id: str) -> Response:
        """A contact as vCard 4.0 (readers; audited)"""
        actor = require_account()
        if not actor.can_read_restricted:
            raise Forbidden("contacts are visible to readers only")
        data, _ = organisations.read(entry_id, actor)
        contact = next((c for c in data.get("contacts", []) if c["contact_id"] == contact_id), None)
        if contact is None:
            raise NotFound(f"organisation {entry_id} has no active contact {contact_id}")
        return Response(vcard.contact_card(data, contact), mimetype="text/vcard", headers={
            "Content-Disposition": f'attachment; filename="{contact_id}.vcf"'})
