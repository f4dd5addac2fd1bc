"""/api/v1/statistics: usage per month from the audit log, freshness, published response times (admins)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import RAISE, Schema, fields, validate

from directory import statistics
from directory.api.auth import require_admin
from directory.api.common import Blueprint, json_response

blp = Blueprint("statistics", __name__, url_prefix="/api/v1/statistics",
                description="Statistics for §40/§58 (administrators)")


class StatisticsArgs(Schema):
    class Meta:
        unknown = RAISE

    months = fields.Integer(load_default=12, validate=validate.Range(min=1, max=statistics.MAX_MONTHS))


class MonthOut(Schema):
    month = fields.String(metadata={"description": "YYYY-MM (UTC)"})
    lookups = fields.Dict(metadata={"description": "restricted reads: total and by kind"})
    verifications = fields.Dict(metadata={"description": "total, by_verdict, by_request_type"})
    sync = fields.Dict(metadata={"description": "LDAP sync runs by outcome"})
    federation = fields.Dict(metadata={"description": "federation pulls by outcome"})
    changes = fields.Dict(metadata={"description": "entry changes by kind"})
    auth_failures = fields.Integer(metadata={"description": "refused tokens and sign-ins (rate-limited)"})


class StatisticsOut(Schema):
    generated_at = fields.Integer()
    months = fields.List(fields.Nested(MonthOut))
    freshness = fields.Dict(metadata={"description": "current entries per freshness status"})
    response_times = fields.Dict(metadata={"description": "published typical response times (§54)"})


@blp.route("")
class Statistics(MethodView):
    @blp.arguments(StatisticsArgs, location="query")
    @blp.response(200, StatisticsOut)
    def get(self, args: dict[str, Any]) -> Response:
        """Usage per month, freshness distribution and published response times"""
        return json_response(statistics.report(require_admin(), args["months"]))
