"""Publisher pages: edit the organisation and its contacts, re-confirm, add the organisation's signature.

Each form carries the version it was made from; the domain refuses the change if the entry moved on.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response as BaseResponse

from directory import entries, organisations
from directory.actors import Actor
from directory.errors import (
    DirectoryError,
    Forbidden,
    InvalidInput,
    PreconditionFailed,
    TooManyRequests,
    Unauthenticated,
)
from directory.keys.canonical import MAX_SAFE_INTEGER
from directory.web import editing, security

bp = Blueprint("publish", __name__, url_prefix="/publish")
bp.register_error_handler(TooManyRequests, security.too_many)


def _publisher(entry_id: str) -> Actor:
    actor: Actor = g.actor
    if actor.kind == "anonymous":
        raise Unauthenticated("sign in to edit an organisation")
    if not actor.can_edit(entry_id):
        raise Forbidden("you may not change this organisation")
    return actor


def _version() -> int:
    """The version the form was made from. It comes back from the browser, so a number no version can
    have is refused here: one past a database integer made the version's lookup fail with a 500."""
    try:
        version = int(request.form.get("version", ""))
    except ValueError:
        version = 0
    if not 0 < version <= MAX_SAFE_INTEGER:  # versions are integers of the signed JSON
        raise InvalidInput("the form lacks the version it was made from")
    return version


def _done(entry_id: str, message: str) -> BaseResponse:
    flash(message)
    return redirect(url_for("web.organisation", entry_id=entry_id), 303)


def _page(template: str, entry_id: str, errors: dict[str, Any] | None = None, message: str | None = None,
          status: int = 200, **values: Any) -> tuple[str, int]:
    view, info = organisations.read(entry_id, g.actor)
    return render_template(template, org=view, version=info.version, errors=errors or {},
                           message=message, **values), status


@bp.route("/organisations/<path:entry_id>/edit", methods=["GET", "POST"])
def edit(entry_id: str) -> BaseResponse | tuple[str, int]:
    actor = _publisher(entry_id)
    if request.method == "POST":
        try:
            info = editing.save_organisation(entry_id, request.form, _version(), actor)
        except InvalidInput as exc:
            return _page("publish/edit.html", entry_id, exc.errors, exc.message, 422, values=request.form)
        except PreconditionFailed as exc:
            return _page("publish/edit.html", entry_id, {}, _stale(exc), 409,
                         values=editing.organisation_form(entries.get_document(entry_id)))
        except DirectoryError as exc:
            return _waiting(entry_id, exc)
        return _done(entry_id, gettext("Saved as version %(version)s.", version=info.version))
    return _page("publish/edit.html", entry_id, values=editing.organisation_form(
        entries.get_document(entry_id)))


@bp.route("/organisations/<path:entry_id>/contacts", methods=["GET", "POST"])
def contacts(entry_id: str) -> BaseResponse | tuple[str, int]:
    actor = _publisher(entry_id)
    rows = editing.contacts_form(entries.get_document(entry_id))
    if request.method == "POST":
        try:
            info = editing.save_contacts(entry_id, request.form, _version(), actor)
        except InvalidInput as exc:
            return _page("publish/contacts.html", entry_id, exc.errors, exc.message, 422, rows=rows)
        except PreconditionFailed as exc:
            return _page("publish/contacts.html", entry_id, {}, _stale(exc), 409, rows=rows)
        except DirectoryError as exc:
            return _waiting(entry_id, exc)
        return _done(entry_id, gettext("Saved as version %(version)s.", version=info.version))
    return _page("publish/contacts.html", entry_id, rows=rows)


@bp.post("/organisations/<path:entry_id>/confirm")
def confirm(entry_id: str) -> BaseResponse | tuple[str, int]:
    actor = _publisher(entry_id)
    try:
        info = editing.confirm(entry_id, _version(), actor)
    except PreconditionFailed as exc:
        return _page("publish/sign.html", entry_id, {}, _stale(exc), 409)
    return _done(entry_id, gettext("Confirmed as accurate: version %(version)s.", version=info.version))


@bp.route("/organisations/<path:entry_id>/signature", methods=["GET", "POST"])
def signature(entry_id: str) -> BaseResponse | tuple[str, int]:
    actor = _publisher(entry_id)
    if request.method == "POST":
        try:
            editing.attach_signature(entry_id, _version(), request.form.get("signature", ""), actor)
        except InvalidInput as exc:
            return _page("publish/sign.html", entry_id, exc.errors, exc.message, 422)
        return _done(entry_id, gettext("The organisation's signature was added."))
    return _page("publish/sign.html", entry_id)


@bp.get("/organisations/<path:entry_id>/versions/<int:version>/payload")
def payload(entry_id: str, version: int) -> Response:
    """The exact canonical bytes of a version, to sign with `gpg --detach-sign --armor`."""
    row = organisations.signed_version(entry_id, version, _publisher(entry_id))
    return Response(bytes(row.payload), mimetype="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="entry-v{version}.json"'})


def _waiting(entry_id: str, exc: DirectoryError) -> BaseResponse:
    """A call-back change (switchboard, domains, contact emails, keys) waits for a second admin (202)."""
    if exc.status != 202:
        raise exc
    change = getattr(exc, "change", {})
    return _done(entry_id, gettext(
        "Not published yet: the change to %(fields)s waits for a second administrator's approval "
        "(pending change %(id)s).", fields=", ".join(change.get("fields", [])), id=change.get("id", "?")))


def _stale(exc: PreconditionFailed) -> str:
    return str(gettext("Not saved: someone changed this entry since you opened the form (%(why)s). The form "
                   "now shows the current version; make your change again.", why=exc.message))
