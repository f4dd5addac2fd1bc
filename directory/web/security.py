"""What every web page shares for safety: the session's actor, CSRF tokens, security headers.

Web pages and the API are kept apart on purpose: the session cookie is honoured only on web paths, the
API keeps bearer tokens (a cookie sent automatically by a browser must never authorise an API call).
CSRF uses a synchronizer token kept in the (signed, HttpOnly, SameSite) session and a hidden form field.
"""

from __future__ import annotations

import hmac
import secrets
from itertools import chain

from flask import Flask, Response, current_app, g, request, session

from directory.actors import Actor
from directory.api.auth import client_address
from directory.api.errors import JSON_PREFIXES
from directory.errors import BadRequest, TooManyRequests
from directory.web import signin

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def is_web_path(path: str) -> bool:
    return not path.startswith(JSON_PREFIXES)


def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def _check_csrf() -> None:
    expected = session.get("csrf")
    sent = request.form.get("csrf_token", "")
    if not isinstance(expected, str) or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise BadRequest("This form has expired or was not sent from this site. Reload the page and try "
                         "again.")


def _refuse_nul_in_form() -> None:
    """PostgreSQL text cannot hold a NUL character: one in a field (a sign-in name) reached a query and
    gave a 500. No field of the directory may hold one (entries refuse control characters), so every
    form refuses it here, the same way on either database. The path and query are checked for every
    request, pages included (`directory.api`)."""
    if any("\x00" in value for value in chain.from_iterable(request.form.listvalues())):
        raise BadRequest("The request contains a NUL character, which no field may hold.")


def _load_actor() -> None:
    actor: Actor | None = None
    account_id = session.get("account_id")
    if isinstance(account_id, int):
        actor = signin.session_actor(account_id, str(session.get("session", "")), client_address())
        if actor is None:
            session.clear()
    g.actor = actor or Actor.anonymous(client_address())


def start_session(signed_in: signin.SignedIn) -> None:
    """A fresh session (new CSRF token too) so nothing from before sign-in carries over."""
    session.clear()
    session.permanent = True
    session.update(account_id=signed_in.actor.account_id, session=signed_in.session_id)


def end_session() -> None:
    signin.end(str(session.get("session", "")), g.get("actor") or Actor.anonymous())
    session.clear()


def too_many(error: TooManyRequests) -> Response:
    """429 as an HTML page that keeps its Retry-After (the generic HTML renderer knows no headers)."""
    from directory.web import render_error

    page, status = render_error(error.status, error.message)
    return Response(page, status, headers={"Retry-After": str(error.retry_after)}, mimetype="text/html")


def _headers(response: Response) -> Response:
    if is_web_path(request.path):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if current_app.config.get("SESSION_COOKIE_SECURE"):  # production: HTTPS only from now on
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if not request.path.startswith("/assets/"):
            # Pages, and downloads such as the signed bytes, may hold restricted data; only the
            # static assets are the same for everyone.
            response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    @app.before_request
    def _web_request() -> None:
        if not is_web_path(request.path) or request.path.startswith("/assets/"):
            return
        _load_actor()
        _refuse_nul_in_form()
        if request.method not in SAFE_METHODS:
            _check_csrf()

    app.after_request(_headers)

    @app.teardown_request
    def _forget(_exc: BaseException | None) -> None:
        # Per-request state must not outlive the request, also where an app context is shared
        # (tests): an API call after a page must never see the page's signed-in actor.
        if is_web_path(request.path):
            for name in ("actor", "viewer_tz", "_flask_babel"):
                g.pop(name, None)
