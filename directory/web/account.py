"""Sign-in (password, and TOTP for publishers and admins) and sign-out."""

from __future__ import annotations

from flask import Blueprint, Response, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from directory import ratelimit
from directory.actors import Actor
from directory.api.auth import client_address
from directory.errors import TooManyRequests, Unauthenticated
from directory.web import security, signin

bp = Blueprint("account", __name__)
bp.register_error_handler(TooManyRequests, security.too_many)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: an open redirect after sign-in would help phishing."""
    # Browsers drop tabs and newlines and read a backslash as "/": "/<tab>/evil.example" leaves the site.
    if (target and target.startswith("/") and not target.startswith("//")
            and not any(ch in target for ch in "\\\t\r\n ") and target.isprintable()):
        return target
    return url_for("web.home")


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> BaseResponse | str | tuple[str, int]:
    error = None
    if request.method == "POST":
        # Besides the per-account lockout: guessing across many accounts. Counted per address for every
        # attempt, also from a visitor already signed in (accounts are not rate-limited otherwise).
        ratelimit.spend(Actor.anonymous(client_address()))
        try:
            done = signin.sign_in(request.form.get("name", ""), request.form.get("password", ""),
                                  request.form.get("code", ""), client_address())
        except Unauthenticated:
            error = True
        else:
            security.start_session(done)
            return redirect(_safe_next(request.form.get("next")), 303)
    page = render_template("signin.html", error=error, next=_safe_next(request.values.get("next")),
                           name=request.form.get("name", ""))
    return (page, 401) if error else page


@bp.post("/sign-out")
def sign_out() -> Response | BaseResponse:
    security.end_session()
    return redirect(url_for("web.home"), 303)


@bp.get("/account")
def account() -> str:
    if g.actor.kind == "anonymous":
        raise Unauthenticated("sign in to see your account")
    return render_template("account.html")
