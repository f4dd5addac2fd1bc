"""/api/v1/approvals: call-back changes waiting for a second administrator (administrators only).

A PATCH that needs approval answers 202 with the pending change: `ApprovalRequired` is turned into that
answer here, for every view whose domain call ends in `entries.update`.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import RAISE, Schema, fields, validate

from directory import approvals
from directory.api.auth import require_admin
from directory.api.common import Blueprint, json_response, per_page
from directory.api.schemas import PageArgs, Paged
from directory.models.approvals import STATUSES

blp = Blueprint("approvals", __name__, url_prefix="/api/v1/approvals",
                description="Changes to the call-back path awaiting a second administrator")


class PendingChangeOut(Schema):
    id = fields.Integer()
    entry_id = fields.String()
    base_version = fields.Integer(metadata={"description": "the version the change applies to, only"})
    changes = fields.Dict(metadata={"description": "the requested top-level fields"})
    requested_by = fields.String()
    requested_at = fields.Integer()
    status = fields.String(metadata={"description": " | ".join(STATUSES)})
    decided_by = fields.String(allow_none=True)
    decided_at = fields.Integer(allow_none=True)
    applied_version = fields.Integer(allow_none=True)
    note = fields.String()
    # `fields` would shadow Schema.fields: the attribute has another name, the JSON member is `fields`.
    touched = fields.List(fields.String(), data_key="fields",
                          metadata={"description": "call-back fields it changes"})


class ApprovalFilter(PageArgs):
    status = fields.String(load_default="pending", validate=validate.OneOf(STATUSES))


class ApprovalPage(Paged):
    items = fields.List(fields.Nested(PendingChangeOut))


class RejectIn(Schema):
    class Meta:
        unknown = RAISE

    note = fields.String(load_default="", validate=validate.Length(max=2000))


@blp.app_errorhandler(approvals.ApprovalRequired)
def _accepted(error: approvals.ApprovalRequired) -> Response:
    return json_response(error.change, 202, {"Location": f"/api/v1/approvals/{error.change['id']}"})


@blp.route("")
class ApprovalList(MethodView):
    @blp.arguments(ApprovalFilter, location="query")
    @blp.response(200, ApprovalPage)
    def get(self, args: dict[str, Any]) -> Response:
        """Changes by status (default: pending), oldest first, a page at a time"""
        found = approvals.listing(require_admin(), args["status"], args["page"], per_page(args["per_page"]))
        return json_response(found.as_dict())


@blp.route("/<int:change_id>")
class ApprovalItem(MethodView):
    @blp.response(200, PendingChangeOut)
    def get(self, change_id: int) -> Response:
        """One change, whatever its status (the Location of a 202 answer)"""
        return json_response(approvals.one(change_id, require_admin()))


@blp.route("/<int:change_id>/approve")
class ApprovalApprove(MethodView):
    @blp.response(200, PendingChangeOut)
    def post(self, change_id: int) -> Response:
        """Approve and apply (a different administrator than the requester; 409 if the entry moved on)"""
        return json_response(approvals.approve(change_id, require_admin()))


@blp.route("/<int:change_id>/reject")
class ApprovalReject(MethodView):
    @blp.arguments(RejectIn)
    @blp.response(200, PendingChangeOut)
    def post(self, body: dict[str, Any], change_id: int) -> Response:
        """Reject a pending change"""
        return json_response(approvals.reject(change_id, require_admin(), body["note"]))
