"""One error shape for every failure: `{"code": <status>, "status": <name>, "message": ..., "errors": {...}}`.

Domain errors (`directory.errors`) and HTTP errors (werkzeug, webargs validation, 413, 404 for unknown
routes) all go through `error_body`. Pages of the web UI get HTML instead (TRAPS.md 19): the web package
registers a renderer with `set_html_renderer`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Response, jsonify, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from directory.errors import DirectoryError, TooManyRequests

JSON_PREFIXES = ("/api/", "/federation/", "/.well-known/", "/healthz", "/readyz", "/metrics")
HtmlRenderer = Callable[[int, str], Any]
_html: dict[str, HtmlRenderer] = {}


def set_html_renderer(renderer: HtmlRenderer) -> None:
    _html["render"] = renderer


def error_body(status: int, message: str, errors: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": status, "status": HTTP_STATUS_CODES.get(status, "Error"), "message": message,
            "errors": errors or {}}


def _respond(status: int, message: str, errors: dict[str, Any] | None,
             headers: dict[str, str] | None = None) -> Any:
    if "render" in _html and not request.path.startswith(JSON_PREFIXES):
        return _html["render"](status, message)
    response: Response = jsonify(error_body(status, message, errors))
    response.status_code = status
    response.headers.update(headers or {})
    return response


class DirectoryApi(Api):
    """flask-smorest's Api with every HTTP error in the one shape (a message is always present)."""

    def handle_http_exception(self, error: HTTPException) -> Any:
        data = getattr(error, "data", None) or {}
        errors = data.get("errors") or data.get("messages") or {}
        message = data.get("message") or (
            "the request is not valid; see errors" if errors else (error.description or error.name))
        return _respond(error.code or 500, message, errors, data.get("headers"))


def init_app(app: Flask) -> None:
    @app.errorhandler(RecursionError)
    def _too_deep(_error: RecursionError) -> Any:
        # json.loads (webargs) and nested schemas recurse per level: a deeply nested body is the
        # client's error, not a 500.
        return _respond(400, "the request body is nested too deeply", None)

    @app.errorhandler(DirectoryError)
    def _domain_error(error: DirectoryError) -> Any:
        headers = {"Retry-After": str(error.retry_after)} if isinstance(error, TooManyRequests) else None
        return _respond(error.status, error.message, error.errors, headers)
