"""/api/v1/organisations/<id>/contacts: designated contacts (restricted: readers and above)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from directory import contacts, documents, organisations
from directory.api.approvals import PendingChangeOut
from directory.api.auth import require_account
from directory.api.common import Blueprint, etag, if_match, json_response
from directory.api.schemas import ContactChanges, ContactOut
from directory.errors import Forbidden, NotFound

blp = Blueprint("contacts", __name__, url_prefix="/api/v1/organisations/<entry_id>/contacts",
                description="Designated contacts of an organisation (restricted)")


def _visible(entry_id: str) -> tuple[list[dict[str, Any]], str]:
    actor = require_account()
    if not actor.can_read_restricted:
        raise Forbidden("contacts are visible to readers only")
    data, info = organisations.read(entry_id, actor)
    return data["contacts"], etag(info.digest)


@blp.route("")
class ContactList(MethodView):
    @blp.response(200, ContactOut(many=True))
    def get(self, entry_id: str) -> Response:
        """The organisation's contacts"""
        items, tag = _visible(entry_id)
        return json_response(items, headers={"ETag": tag})

    @blp.arguments(documents.ContactIn)
    @blp.response(201, ContactOut)
    def post(self, contact: dict[str, Any], entry_id: str) -> Response:
        """Add a contact (publishers of the organisation, admins); needs If-Match"""
        contact_id = contacts.add(entry_id, contact, require_account(), if_match())
        return _single(entry_id, contact_id, 201)


def _single(entry_id: str, contact_id: str, status: int = 200) -> Response:
    items, tag = _visible(entry_id)
    for item in items:
        if item["contact_id"] == contact_id:
            return json_response(item, status, {"ETag": tag})
    # Inactive contacts are visible to the organisation's publishers and admins only.
    raise NotFound(f"organisation {entry_id} has no active contact {contact_id}")


@blp.route("/<contact_id>")
class ContactItem(MethodView):
    @blp.response(200, ContactOut)
    def get(self, entry_id: str, contact_id: str) -> Response:
        """One contact"""
        return _single(entry_id, contact_id)

    @blp.arguments(ContactChanges(partial=True))
    @blp.response(200, ContactOut)
    @blp.alt_response(202, schema=PendingChangeOut, description="A call-back change waits for a second "
                      "administrator (CALLBACK_APPROVAL): the pending change; see /api/v1/approvals")
    def patch(self, changes: dict[str, Any], entry_id: str, contact_id: str) -> Response:
        """Change a contact; LDAP-owned fields are refused (409); needs If-Match"""
        contacts.change(entry_id, contact_id, changes, require_account(), if_match())
        return _single(entry_id, contact_id)

    @blp.response(204)
    def delete(self, entry_id: str, contact_id: str) -> Response:
        """Remove a manual contact; needs If-Match"""
        contacts.remove(entry_id, contact_id, require_account(), if_match())
        return Response(status=204)
