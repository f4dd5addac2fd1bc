"""Small helpers every view uses: JSON responses from prepared data, page sizes, ETags."""

from __future__ import annotations

import json
from typing import Any

import flask
import flask_smorest
from flask import Response, request
from marshmallow import RAISE
from webargs.flaskparser import FlaskParser, abort
from werkzeug.routing import IntegerConverter

from directory import runtime
from directory.errors import InvalidInput, PreconditionRequired


class Parser(FlaskParser):
    """webargs' parser with three holes closed for every API view.

    - Unknown query parameters are refused, whatever the schema says (webargs ignores them by default,
      TRAPS.md 19): a misspelt filter must not silently answer the unfiltered list.
    - A JSON integer longer than Python converts (4300 digits) makes `json.loads` raise a plain
      ValueError, which webargs does not catch (only JSONDecodeError): a 400 like any invalid JSON,
      not a 500.
    - A NUL character anywhere in a JSON body is refused (a 422).
    """

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": RAISE}

    def _raw_load_json(self, req: flask.Request) -> Any:
        try:
            data = super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise  # webargs answers these itself
        except ValueError as exc:
            abort(400, exc=exc, messages={"json": ["Invalid JSON body."]})
        where = _nul_at(data)
        if where is not None:
            # PostgreSQL text cannot store NUL: a name or note holding one was a DataError, a 500.
            abort(422, messages={"json": {where or "_schema": ["must not contain NUL characters"]}})
        return data


def _nul_at(value: Any, path: str = "") -> str | None:
    """The dotted path of the first text holding NUL (a member name counts as its member), else None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        inner = f"{path}.{key}" if path else str(key)
        if "\x00" in str(key):
            return inner
        found = _nul_at(item, inner)
        if found is not None:
            return found
    return None


class Blueprint(flask_smorest.Blueprint):
    """Every API blueprint parses its arguments with `Parser`."""

    ARGUMENTS_PARSER = Parser()


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status=status, headers=headers, mimetype="application/json")


def per_page(requested: int | None) -> int:
    values = runtime.settings()
    if requested is None:
        return int(values["DEFAULT_PAGE_SIZE"])
    if requested > values["MAX_PAGE_SIZE"]:
        raise InvalidInput("page too large",
                           {"per_page": [f"at most {values['MAX_PAGE_SIZE']}"]})
    return requested


def etag(digest: str) -> str:
    return f'"{digest}"'


def if_match() -> str:
    """Writes must name the version they change (ETag from the last GET): lost updates are refused."""
    header = request.headers.get("If-Match")
    if not header:
        raise PreconditionRequired("send If-Match with the ETag of the version you are changing")
    return header.strip().removeprefix("W/").strip('"')


class BoundedInt(IntegerConverter):
    """`<int:...>` path parameters bounded to what every database column holds (a larger number is a
    404, not an integer overflow in the driver)."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def bounded_int_schema(converter: BoundedInt) -> dict[str, Any]:
    return {"type": "integer", "minimum": 0, "maximum": converter.max}
