"""The HTTP API under /api/v1: flask-smorest blueprints that translate HTTP to domain calls and back."""

from __future__ import annotations

from flask import Flask, request

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

BLUEPRINTS = (organisations.blp, contacts.blp, versions.blp, accounts.blp, freshness.blp,
              health.blp, federation.wellknown, federation.blp)
# Administration: second-admin approvals of call-back changes, usage statistics.
BLUEPRINTS += (approvals.blp, statistics.blp)
# Finding a counterpart and verifying a requester (search, resolve, verify, exports).
BLUEPRINTS += (search_api.blp,)
# LDAP / Active Directory sync runs (administrators).
BLUEPRINTS += (sync.blp,)


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
    def _authenticate() -> None:
        if request.path.startswith("/api/"):
            load_actor()

    return api
