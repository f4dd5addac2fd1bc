"""Who is calling: a bearer token's account, or an anonymous visitor (public fields only)."""

from __future__ import annotations

from flask import g, request

from directory import accounts
from directory.actors import Actor
from directory.errors import Forbidden, Unauthenticated


def client_address() -> str | None:
    return request.remote_addr


def load_actor() -> None:
    """before_request: a present but bad token is a 401, never a silent downgrade to anonymous."""
    header = request.headers.get("Authorization")
    if header is None:
        if "actor" not in g:
            g.actor = Actor.anonymous(client_address())
        return
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("use `Authorization: Bearer <token>`")
    g.actor = accounts.authenticate(token.strip(), client_address())


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
