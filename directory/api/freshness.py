"""/api/v1/freshness (admins) and recording that an emergency channel was tested."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from directory import freshness, organisations
from directory.api.auth import current_actor, require_account, require_admin
from directory.api.common import Blueprint, etag, if_match, json_response
from directory.api.schemas import OrganisationOut, Query

blp = Blueprint("freshness", __name__, url_prefix="/api/v1", description="How current entries are")


class FreshnessArgs(Query):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=1000))


class FreshnessItem(Schema):
    id = fields.String()
    name = fields.String()
    registrar = fields.String()
    status = fields.String()
    status_reasons = fields.List(fields.String())


class FreshnessReport(Schema):
    checked_at = fields.String()
    total = fields.Integer()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    worst = fields.List(fields.Nested(FreshnessItem))


@blp.route("/freshness")
class FreshnessView(MethodView):
    @blp.arguments(FreshnessArgs, location="query")
    @blp.response(200, FreshnessReport)
    def get(self, args: dict[str, Any]) -> Response:
        """Counts per status and the worst entries first, with reasons (administrators)"""
        require_admin()
        return json_response(freshness.report(limit=args["limit"]).as_dict())


@blp.route("/organisations/<entry_id>/emergency-channels/<int:index>/tested")
class ChannelTested(MethodView):
    @blp.response(200, OrganisationOut)
    def post(self, entry_id: str, index: int) -> Response:
        """Record that emergency channel `index` (0-based) was tested now; needs If-Match"""
        freshness.record_test(entry_id, index, require_account(), if_match())
        data, info = organisations.read(entry_id, current_actor())
        return json_response(data, 200, {"ETag": etag(info.digest)})
