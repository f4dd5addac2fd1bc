"""The HTTP API under /api/v1: flask-smorest blueprints that translate HTTP to domain calls and back."""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.exceptions import UnsupportedMediaType

from directory.api import (
    accounts,
    approvals,
    contacts,
    errors,
    federation,
    freshness,
    health,
    organisations,
    statistics,
    sync,
    versions,
)
from directory.api import search as search_api
from directory.api.auth import load_actor
from directory.api.common import BoundedInt, bounded_int_schema
from directory.errors import BadRequest

BLUEPRINTS = (
    # Entries and their history.
    organisations.blp, contacts.blp, versions.blp, freshness.blp,
    # Finding a counterpart and verifying a requester (search, resolve, verify, exports).
    search_api.blp,
    # Administration: accounts, second-admin approvals of call-back changes, statistics, LDAP sync runs.
    accounts.blp, approvals.blp, statistics.blp, sync.blp,
    # Operations and federation.
    health.blp, federation.wellknown, federation.blp,
)


def init_app(app: Flask) -> errors.DirectoryApi:
    app.config.update(
        API_TITLE="Contact-point directory",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": "Federated directory of cybercrime cooperation contact points."},
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{}, {"bearer": []}],
        },
    )
    app.url_map.converters["int"] = BoundedInt
    api = errors.DirectoryApi(app)
    api.register_converter(BoundedInt, bounded_int_schema)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    errors.init_app(app)

    @app.before_request
    def _admit() -> None:
        """Whether the request can be read at all, and who is calling."""
        path = request.path
        _no_nul_in_url(path)  # every path, pages too: the error renders as each path's errors do
        if path.startswith("/api/"):
            load_actor()
            if request.method not in _BODILESS:  # no view reads the body of these
                _json_body_only()

    @app.after_request
    def _not_cached(response: Response) -> Response:
        # An answer to an account can hold restricted fields (contacts, emergency numbers): no cache, a
        # browser's included, may keep it. Public answers may be cached, but never handed to a caller
        # who sent a token.
        if request.path.startswith("/api/"):
            if "Authorization" in request.headers:
                response.headers.setdefault("Cache-Control", "no-store")
            response.vary.add("Authorization")
        return response

    return api


_BODILESS = frozenset({"GET", "HEAD", "OPTIONS"})


def _no_nul_in_url(path: str) -> None:
    """PostgreSQL text cannot hold NUL: an id or a filter holding one reached the driver as a DataError,
    a 500 (even for anonymous callers). No id, name or filter of the directory contains one."""
    # In the raw query a NUL is "%00" or the byte itself (what decoding turns into one); reading the raw
    # string spares every request, the lookup's included, parsing the arguments it may not need.
    query = request.query_string
    if "\x00" in path or b"%00" in query or b"\x00" in query:
        raise BadRequest("the request URL contains a NUL character")


def _json_body_only() -> None:
    """A body in another content type is refused: webargs would read it as no JSON at all, and a PATCH
    without fields answers 200 with the unchanged entry, as if the change had been made."""
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()  # no Content-Length
    if (request.content_length or chunked) and not request.is_json:
        raise UnsupportedMediaType("send the request body as JSON (Content-Type: application/json)")
