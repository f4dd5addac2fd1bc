"""Server-rendered pages (Jinja) for officers, ISP staff, publishers and admins; no JavaScript needed.

Rule of this package: views translate HTTP only — every domain call goes through `queries` (reads),
`editing` (publisher changes) or `signin` (sessions), none of which import Flask. Pages get HTML errors,
CSRF checks and security headers (`security`); language and time zone follow the viewer (`i18n`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask, g, render_template, request
from flask_babel import lazy_gettext

from directory.actors import Actor
from directory.api.errors import set_html_renderer
from directory.vocabulary import REQUEST_TYPES
from directory.web import account, admin, i18n, labels, pages, publish, security

ERROR_TITLES: dict[int, Any] = {
    400: lazy_gettext("The request could not be understood"),
    401: lazy_gettext("Please sign in"),
    403: lazy_gettext("You may not see this page"),
    404: lazy_gettext("Page not found"),
    409: lazy_gettext("This changed meanwhile"),
    410: lazy_gettext("This organisation was deleted"),
    412: lazy_gettext("This changed meanwhile"),
    413: lazy_gettext("Too much data was sent"),
    422: lazy_gettext("Some of the input is not valid"),
    429: lazy_gettext("Too many requests"),
}


def render_error(status: int, message: str) -> tuple[str, int]:
    title = str(ERROR_TITLES.get(status, lazy_gettext("Something went wrong")))
    return render_template("error.html", status=status, title=title, message=message), status


def _template_globals() -> dict[str, Any]:
    return {
        "actor": g.get("actor") or Actor.anonymous(),
        "csrf_token": security.csrf_token,
        "languages": i18n.LANGUAGES,
        "current_language": i18n.current_language(),
        "viewer_tz": i18n.viewer_zone(),
        "label": labels.label,
        "request_types": REQUEST_TYPES,
        "path": request.path,
    }


def init_app(app: Flask) -> None:
    app.config.setdefault("PERMANENT_SESSION_LIFETIME",
                          timedelta(hours=app.config["DIRECTORY"]["SESSION_HOURS"]))
    security.init_app(app)
    i18n.init_app(app)
    for blueprint in (pages.bp, account.bp, publish.bp, admin.bp):
        app.register_blueprint(blueprint)
    app.context_processor(_template_globals)
    set_html_renderer(render_error)
