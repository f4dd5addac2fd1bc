"""Federated contact-point directory for cybercrime cooperation.

`create_app` only assembles: settings, database handle (not connected), API, web pages. Migrations, key
loading, seeding and the scheduler belong to the entry points (`directory` CLI, `wsgi.py`).
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Flask

from directory import config, db, runtime
from directory.application import Application
from directory.errors import ConfigurationError


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    settings = config.resolve(overrides)
    if not settings["SECRET_KEY"]:
        if settings["ENV"] == "production":
            raise ConfigurationError("DIRECTORY_SECRET_KEY is required when DIRECTORY_ENV=production")
        # Development without a configured key: an ephemeral one (the CLI's `serve` passes a kept one).
        settings["SECRET_KEY"] = secrets.token_urlsafe(48)
    runtime.configure(settings)
    db.open_database(settings["DATABASE_URL"])

    app = Application(__name__, instance_path=settings["INSTANCE_PATH"])
    app.config.update(
        SECRET_KEY=settings["SECRET_KEY"],
        MAX_CONTENT_LENGTH=settings["MAX_CONTENT_LENGTH"],
        DIRECTORY=settings,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=settings["ENV"] == "production",
    )
    from directory.api import health

    health.init_app(app)  # first hooks (request id, metrics, probes): before the database is touched
    app.before_request(db.connect)
    app.teardown_request(lambda _exc: db.release())

    from directory import api

    api.init_app(app)
    from directory import web

    web.init_app(app)
    return app
