"""/api/v1/organisations: list, create, read, change (If-Match), delete, re-confirm."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView
from marshmallow import RAISE

from directory import documents, entries, organisations
from directory.api.approvals import PendingChangeOut
from directory.api.auth import current_actor, require_account
from directory.api.common import Blueprint, etag, if_match, json_response, per_page
from directory.api.schemas import OrganisationChanges, OrganisationFilters, OrganisationOut, OrganisationPage

blp = Blueprint("organisations", __name__, url_prefix="/api/v1/organisations",
                description="Organisations and their signed entries")


def _one(entry_id: str, status: int = 200) -> Response:
    body, info = organisations.read_json(entry_id, current_actor())
    headers = {"ETag": etag(info.digest)}
    if status == 201:
        headers["Location"] = f"/api/v1/organisations/{entry_id}"
    return Response(body, status=status, headers=headers, mimetype="application/json")


@blp.route("")
class OrganisationList(MethodView):
    @blp.arguments(OrganisationFilters, location="query", unknown=RAISE)
    @blp.response(200, OrganisationPage)
    def get(self, args: dict[str, Any]) -> Response:
        """List organisations (filters and pagination in SQL)"""
        size = per_page(args.pop("per_page"))
        page = organisations.list_page(current_actor(), args, args.pop("page"), size)
        return json_response(page.as_dict())

    @blp.arguments(documents.OrganisationIn)
    @blp.response(201, OrganisationOut)
    def post(self, fields: dict[str, Any]) -> Response:
        """Create an organisation (administrators)"""
        info = entries.create(fields, require_account())
        return _one(info.entry_id, 201)


@blp.route("/<entry_id>")
class OrganisationItem(MethodView):
    @blp.response(200, OrganisationOut)
    def get(self, entry_id: str) -> Response:
        """One organisation at the level the caller may see"""
        response = _one(entry_id)
        if request.if_none_match and request.if_none_match.contains(response.headers["ETag"].strip('"')):
            return Response(status=304, headers={"ETag": response.headers["ETag"]})
        return response

    @blp.arguments(OrganisationChanges(partial=True))
    @blp.response(200, OrganisationOut)
    @blp.alt_response(202, schema=PendingChangeOut, description="A call-back change waits for a second "
                      "administrator (CALLBACK_APPROVAL): the pending change; see /api/v1/approvals")
    def patch(self, changes: dict[str, Any], entry_id: str) -> Response:
        """Change fields; needs If-Match with the current ETag; writes a new signed version"""
        entries.update(entry_id, changes, require_account(), if_match=if_match())
        return _one(entry_id)

    @blp.response(204)
    def delete(self, entry_id: str) -> Response:
        """Delete (writes a signed tombstone version); needs If-Match"""
        entries.delete(entry_id, require_account(), if_match=if_match())
        return Response(status=204)


@blp.route("/<entry_id>/confirm")
class OrganisationConfirm(MethodView):
    @blp.response(200, OrganisationOut)
    def post(self, entry_id: str) -> Response:
        """Re-confirm the entry is accurate: a new version with fresh confirmed_at and not_after"""
        entries.update(entry_id, {}, require_account(), if_match=if_match(), confirm=True)
        return _one(entry_id)
