"""/api/v1/organisations/<id>/versions: the full history, one version, its exact signed bytes."""

from __future__ import annotations

import json

from flask import Response
from flask.views import MethodView

from directory import organisations, signatures
from directory.api.auth import current_actor, require_account
from directory.api.common import Blueprint, json_response
from directory.api.schemas import EnvelopeOut, OrganisationOut, SignatureIn, SignatureStatus, VersionMeta
from directory.keys import SignatureRecord, envelope_bytes, make_envelope

blp = Blueprint("versions", __name__, url_prefix="/api/v1/organisations/<entry_id>/versions",
                description="Version history of an entry")


@blp.route("")
class VersionList(MethodView):
    @blp.response(200, VersionMeta(many=True))
    def get(self, entry_id: str) -> Response:
        """Every version, newest first"""
        return json_response(organisations.history(entry_id, current_actor()))


@blp.route("/<int:version>")
class VersionItem(MethodView):
    @blp.response(200, OrganisationOut)
    def get(self, entry_id: str, version: int) -> Response:
        """One version at the level the caller may see"""
        return json_response(organisations.read_version(entry_id, version, current_actor()))


@blp.route("/<int:version>/canonical")
class VersionBytes(MethodView):
    @blp.response(200, description="The exact canonical bytes that were signed (application/json)")
    def get(self, entry_id: str, version: int) -> Response:
        """The exact signed bytes of a version, for `gpg --detach-sign` or offline verification"""
        row = organisations.signed_version(entry_id, version, require_account())
        return Response(bytes(row.payload), mimetype="application/json",
                        headers={"ETag": f'"{row.digest}"'})


@blp.route("/<int:version>/envelope")
class VersionEnvelope(MethodView):
    @blp.response(200, EnvelopeOut)
    def get(self, entry_id: str, version: int) -> Response:
        """The signed envelope {payload, signatures}: verifiable offline with the node key"""
        row = organisations.signed_version(entry_id, version, require_account())
        records = [SignatureRecord(**s) for s in json.loads(row.signatures)]
        body = envelope_bytes(make_envelope(bytes(row.payload), records))
        return Response(body, mimetype="application/json")


@blp.route("/<int:version>/signatures")
class VersionSignatures(MethodView):
    @blp.response(200, SignatureStatus(many=True))
    def get(self, entry_id: str, version: int) -> Response:
        """Each signature's status (valid, invalid, key_expired, key_revoked, unknown_key) and reason"""
        return json_response(signatures.statuses(organisations.version_row(entry_id, version)))

    @blp.arguments(SignatureIn)
    @blp.response(201, SignatureStatus(many=True))
    def post(self, body: dict[str, str], entry_id: str, version: int) -> Response:
        """Add the organisation's detached signature over the version's canonical bytes"""
        result = signatures.attach(entry_id, version, body["signature"], require_account())
        return json_response(result, 201)
