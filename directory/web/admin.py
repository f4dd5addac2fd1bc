"""Admin pages: accounts, LDAP sources and their runs, the freshness report, federation peers."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response as BaseResponse

from directory import accounts, approvals, runtime
from directory.actors import Actor
from directory.errors import Conflict, Forbidden, TooManyRequests, Unauthenticated
from directory.models.accounts import Account
from directory.web import queries, security, signin

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.register_error_handler(TooManyRequests, security.too_many)


@bp.before_request
def _admins_only() -> None:
    actor: Actor = g.actor
    if actor.kind == "anonymous":
        raise Unauthenticated("sign in as an administrator")
    if not actor.is_admin:
        raise Forbidden("administrators only")


@bp.get("/")
def index() -> str:
    return render_template("admin/index.html")


@bp.get("/accounts")
def account_list() -> str:
    rows = accounts.list_accounts().items
    state = {a.id: a for a in Account.select(Account.id, Account.locked_until, Account.failed_logins,
                                             Account.totp_secret, Account.password_hash)}
    now = runtime.now()
    for row in rows:
        account = state[int(row["id"])]  # type: ignore[call-overload]
        row.update(locked=account.locked_until > now, locked_until=account.locked_until,
                   totp=bool(account.totp_secret), password=bool(account.password_hash),
                   failed=account.failed_logins)
    return render_template("admin/accounts.html", rows=rows)


@bp.post("/accounts/<int:account_id>/unlock")
def unlock(account_id: int) -> BaseResponse:
    signin.unlock(account_id, g.actor)
    flash(gettext("Account %(id)s unlocked.", id=account_id))
    return redirect(url_for("admin.account_list"), 303)


@bp.get("/ldap")
def ldap() -> str:
    return render_template("admin/ldap.html", overview=queries.sync_overview())


@bp.get("/freshness")
def freshness() -> str:
    return render_template("admin/freshness.html", rows=queries.freshness_report())


@bp.get("/approvals")
def approval_list() -> str:
    return render_template("admin/approvals.html", rows=approvals.listing(g.actor).items)


@bp.post("/approvals/<int:change_id>/<any(approve, reject):decision>")
def decide(change_id: int, decision: str) -> BaseResponse:
    """A second administrator applies or refuses a call-back change; refusals of the decision are shown."""
    try:
        if decision == "approve":
            done = approvals.approve(change_id, g.actor)
            flash(gettext("Change %(id)s approved: version %(v)s.", id=change_id, v=done["applied_version"]))
        else:
            approvals.reject(change_id, g.actor, request.form.get("note", "")[:500])
            flash(gettext("Change %(id)s rejected.", id=change_id))
    except (Conflict, Forbidden) as exc:
        flash(exc.message)
    return redirect(url_for("admin.approval_list"), 303)


@bp.get("/federation")
def federation() -> str:
    return render_template("admin/federation.html", peers=queries.peers_overview())
