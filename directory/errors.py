"""The one error hierarchy of the directory.

Domain modules raise these; `directory.api.errors` maps them to HTTP in one place and the web UI renders
them as HTML. Each error carries its HTTP status so the mapping is data, not a chain of `except` blocks.
"""

from __future__ import annotations

from typing import Any


class DirectoryError(Exception):
    """Base class: `status` is the HTTP status, `code` a stable machine-readable name."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class InvalidInput(DirectoryError):
    status = 422
    code = "invalid_input"


class BadRequest(DirectoryError):
    status = 400
    code = "bad_request"


class Unauthenticated(DirectoryError):
    status = 401
    code = "unauthenticated"


class Forbidden(DirectoryError):
    status = 403
    code = "forbidden"


class NotFound(DirectoryError):
    status = 404
    code = "not_found"


class Conflict(DirectoryError):
    status = 409
    code = "conflict"


class Gone(DirectoryError):
    status = 410
    code = "gone"


class PreconditionFailed(DirectoryError):
    status = 412
    code = "precondition_failed"


class PreconditionRequired(DirectoryError):
    status = 428
    code = "precondition_required"


class TooManyRequests(DirectoryError):
    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ConfigurationError(DirectoryError):
    """A setting or configuration file is wrong; raised at start-up, never per request."""

    code = "configuration_error"
