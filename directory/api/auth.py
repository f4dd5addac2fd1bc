"""Who is calling: a bearer token's account, or an anonymous visitor (public fields only)."""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app, g, request

from directory import accounts, audit, runtime
from directory.actors import Actor
from directory.errors import Forbidden, Unauthenticated
from directory.models.audit import AuditEvent

AUTH_FAILURE = "auth.token_failure"
FAILURE_INTERVAL = 60  # at most one audit event per client address per minute: a flood cannot fill the log


def client_address() -> str | None:
    return request.remote_addr


def load_actor() -> None:
    """before_request: a present but bad token is a 401, never a silent downgrade to anonymous."""
    header = request.headers.get("Authorization")
    if header is None:
        # Always set: `g` outlives a request when an app context is already pushed (tests, CLI), and a
        # previous request's account must never carry over to an anonymous one.
        g.actor = Actor.anonymous(client_address())
        return
    scheme, _, token = header.partition(" ")
    try:
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("use `Authorization: Bearer <token>`")
        g.actor = accounts.authenticate(token.strip(), client_address())
    except Unauthenticated:
        _record_failure()
        raise


def _client_pseudonym() -> str:
    """A keyed hash of the client address: groups a flood without storing the address (personal data)."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(key, (client_address() or "unknown").encode(), hashlib.sha256).hexdigest()
    return f"client:{digest[:16]}"


def _record_failure() -> None:
    """Audit a refused token, never its text; once per client and minute (checked in the log itself,
    so every worker process shares the limit)."""
    target = _client_pseudonym()
    recent = (AuditEvent.select(AuditEvent.seq)
              .where((AuditEvent.action == AUTH_FAILURE) & (AuditEvent.target == target) &
                     (AuditEvent.at > runtime.now() - FAILURE_INTERVAL)).exists())
    if not recent:
        audit.record(Actor.anonymous(), AUTH_FAILURE, target, "refused", {"path": request.path[:200]})


def current_actor() -> Actor:
    actor: Actor = g.actor
    return actor


def require_account() -> Actor:
    actor = current_actor()
    if actor.kind == "anonymous":
        raise Unauthenticated("this needs an account token")
    return actor


def require_admin() -> Actor:
    actor = require_account()
    if not actor.is_admin:
        raise Forbidden("administrators only")
    return actor
