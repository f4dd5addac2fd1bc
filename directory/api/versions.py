"""/api/v1/organisations/<id>/versions: the full history, one version, its exact signed bytes."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from directory import organisations
from directory.api.auth import current_actor
from directory.api.common import json_response
from directory.api.schemas import OrganisationOut, VersionMeta

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
