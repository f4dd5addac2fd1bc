"""Canonical JSON: RFC 8785 (JCS) bytes under the directory's stricter profile.

Signed payloads are exchanged as these exact bytes. The profile removes every place where two honest
implementations could disagree about what a document means or how it serialises:

- no floats (JCS number formatting is where implementations differ; times are integer epoch seconds),
- integers within +-(2**53 - 1), the range every JSON parser represents exactly,
- member names are strings and unique (a duplicate name means two parsers may see two documents),
- strings are Unicode NFC without lone surrogates (visually identical names must be byte-identical),
- at most MAX_BYTES bytes and MAX_DEPTH levels of nesting (bounded work for untrusted input).

`parse_canonical` is the only way signed bytes become Python values: it checks the bytes are exactly the
canonical serialisation of what they parse to, so a signature never covers an ambiguous document.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from typing import Any, NoReturn

import rfc8785

from directory.errors import InvalidInput

MAX_BYTES = 64 * 1024
MAX_DEPTH = 16
MAX_SAFE_INTEGER = 2**53 - 1


class CanonicalError(InvalidInput):
    """Input is not canonical JSON under the profile; the message says what and where."""

    code = "not_canonical"


def canonical_bytes(obj: Any, *, max_bytes: int = MAX_BYTES) -> bytes:
    """The RFC 8785 serialisation of `obj`, after checking it against the profile.

    `max_bytes` exists for containers of signed payloads (envelopes), whose base64 payload alone can
    exceed the payload limit; signed payloads themselves use the default.
    """
    _check_value(obj, "$", 0)
    try:
        data = rfc8785.dumps(obj)
    except rfc8785.CanonicalizationError as exc:  # our checks run first; this is a second line
        raise CanonicalError(f"cannot canonicalise: {exc}") from exc
    if len(data) > max_bytes:
        raise CanonicalError(f"canonical JSON is {len(data)} bytes; the limit is {max_bytes}")
    return data


def parse_canonical(data: bytes) -> Any:
    """Parse signed bytes, requiring them to be exactly the canonical form of their own value."""
    value = load_strict(data)
    if canonical_bytes(value) != bytes(data):
        raise CanonicalError("payload is not canonical")
    return value


def load_strict(data: bytes, *, max_bytes: int = MAX_BYTES) -> Any:
    """Parse JSON under the profile without requiring canonical form (used for unsigned wrappers)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CanonicalError(f"expected bytes, got {type(data).__name__}")
    # Size first: every later step costs time proportional to the input.
    if len(data) > max_bytes:
        raise CanonicalError(f"JSON is {len(data)} bytes; the limit is {max_bytes}")
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CanonicalError(f"not valid UTF-8 at byte {exc.start}") from exc
    try:
        value = json.loads(
            text,
            object_pairs_hook=_unique_members,
            parse_float=_reject_float,
            parse_constant=_reject_constant,
        )
    except CanonicalError:
        raise
    except RecursionError as exc:
        raise CanonicalError(f"JSON is nested more than {MAX_DEPTH} levels deep") from exc
    except ValueError as exc:  # JSONDecodeError, and int() refusing a huge digit string
        raise CanonicalError(f"not valid JSON: {exc}") from exc
    _check_value(value, "$", 0)
    return value


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise CanonicalError(f"duplicate member name {name!r}")
        result[name] = value
    return result


def _reject_float(text: str) -> NoReturn:
    raise CanonicalError(f"number {text} is not an integer; floats are not allowed")


def _reject_constant(text: str) -> NoReturn:
    raise CanonicalError(f"{text} is not allowed in JSON")


def _check_value(value: Any, path: str, depth: int) -> None:
    # bool before int: bool is a subclass of int, and True must not be range-checked as 1.
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise CanonicalError(f"{path}: integer {value} is outside +-(2**53-1)")
        return
    if isinstance(value, float):
        raise CanonicalError(f"{path}: float {value!r} is not allowed; use an integer or a string")
    if isinstance(value, str):
        _check_string(value, path)
        return
    if isinstance(value, Mapping | list | tuple):
        if depth >= MAX_DEPTH:
            raise CanonicalError(f"{path}: nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, Mapping):
            for name, member in value.items():
                if not isinstance(name, str):
                    raise CanonicalError(f"{path}: member name {name!r} is not a string")
                _check_string(name, f"{path} (member name {name!r})")
                _check_value(member, f"{path}.{name}", depth + 1)
        else:
            for index, item in enumerate(value):
                _check_value(item, f"{path}[{index}]", depth + 1)
        return
    raise CanonicalError(f"{path}: {type(value).__name__} is not a JSON value")


def _check_string(text: str, path: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalError(f"{path}: string contains a lone surrogate at position {exc.start}") from exc
    if not unicodedata.is_normalized("NFC", text):
        raise CanonicalError(f"{path}: string {text!r} is not Unicode NFC")
