"""/api/v1/sync/runs: the last LDAP sync runs and their outcome (administrators)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import RAISE, Schema, fields, validate

from directory import documents
from directory.api.auth import require_admin
from directory.api.common import Blueprint, json_response
from directory.sync import recent_runs

blp = Blueprint("sync", __name__, url_prefix="/api/v1/sync", description="LDAP / Active Directory sync")


class RunFilter(Schema):
    class Meta:
        unknown = RAISE

    source = fields.String(validate=validate.Length(min=1, max=100))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=200))


class SyncRunOut(Schema):
    id = fields.Integer()
    source = fields.String()
    organisation = fields.String(allow_none=True)
    started_at = fields.String()
    finished_at = fields.String(allow_none=True)
    outcome = fields.String(metadata={"description": "applied | nothing_to_do | dry_run | ldap_error | "
                                                     "incomplete | guard_tripped | config_error"})
    forced = fields.Boolean()
    version = fields.Integer(allow_none=True)
    counts = fields.Dict()
    message = fields.String(allow_none=True)


@blp.route("/runs")
class SyncRuns(MethodView):
    @blp.arguments(RunFilter, location="query", unknown=RAISE)
    @blp.response(200, SyncRunOut(many=True))
    def get(self, args: dict[str, Any]) -> Response:
        """The latest sync runs, newest first (administrators)"""
        require_admin()
        runs = recent_runs(args.get("source"), args["limit"])
        for run in runs:
            run["started_at"] = documents.iso(run["started_at"])
            if run["finished_at"] is not None:
                run["finished_at"] = documents.iso(run["finished_at"])
        return json_response(runs)
