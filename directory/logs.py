"""Structured logs: one JSON object per line, each carrying the id of the request it belongs to.

`configure(level)` is called by the entry points (`wsgi.py`, `directory serve`), never at import. What is
logged is chosen so that a log file holds nothing personal: requests are logged by their route template
(`/api/v1/organisations/<entry_id>`), never the concrete path or query string (which can hold an email
address or a phone number being verified), and neither headers, tokens nor bodies. A redaction filter
masks email addresses and bearer tokens in any message as a second line of defence (database errors
quote the values they reject).
"""

from __future__ import annotations

import contextvars
import json
import logging
import random
import re
import sys
import time
from typing import IO, Any

LOGGER = "directory"
# A caller's X-Request-Id is kept only when it looks like an id: a hostile header cannot inject newlines,
# quotes or megabytes into every log line and response.
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
# Attributes that callers may attach with `extra=`; anything else stays out of the line.
FIELDS = ("request_id", "method", "route", "endpoint", "status", "duration_ms", "actor", "job", "outcome")

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def accept_request_id(header: str | None) -> str:
    """The caller's request id when it is a plain token of at most 64 characters, else a fresh one.

    A request id correlates log lines; it is not a secret, so it needs no system entropy per request.
    """
    if header and _REQUEST_ID.fullmatch(header):
        return header
    return f"{random.getrandbits(128):032x}"


def redact(text: str) -> str:
    if "@" not in text and "bearer" not in text.lower():  # the common case: skip both patterns
        return text
    return _BEARER.sub(r"\1<redacted>", _EMAIL.sub("<email>", text))


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "message", "request_id", ...FIELDS, "exc"}` on one line."""

    # One encoder for every line (json.dumps builds one per call when given options) and the time text
    # of the current second: the request line is written for every request.
    _encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    _second: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second[0]:
            self._second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        line: dict[str, Any] = {
            "ts": f"{self._second[1]}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        rid = getattr(record, "request_id", None) or request_id_var.get()
        if rid:
            line["request_id"] = rid
        for name in FIELDS[1:]:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exc"] = redact(self.formatException(record.exc_info))
        return self._encode(line)


def configure(level: str = "INFO", stream: IO[str] | None = None) -> logging.Handler:
    """JSON lines on stderr for the application's logger (Flask's `app.logger` is the same one).

    Idempotent: a second call replaces the handler. Gunicorn keeps its own plain lines about workers,
    which hold no request data (its access log is off: our request line replaces it).
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.set_name("directory-json")
    logger = logging.getLogger(LOGGER)
    for old in [h for h in logger.handlers if h.get_name() == "directory-json"]:
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
    # No line shows the calling file and line, so don't walk the stack for them on every record (the
    # logging HOWTO's "Optimization" section); gunicorn's own format does not use them either.
    logging._srcfile = None  # type: ignore[attr-defined]
    return handler
