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

Speed (a 20,000-contact LDAP roster is several MB): values made only of dict, list, str, int, bool and
None whose member names are all in the Basic Multilingual Plane are checked by a tight pass and written
by the standard library's C encoder. For such values its output *is* RFC 8785: the same escapes (both
descend from the same reference code), integers as digits, and sorting by code point equals RFC 8785's
UTF-16 order when no name holds a character above U+FFFF. Everything else (tuples, other mappings,
astral member names, values that break a rule) takes the reference path: the `rfc8785` package, and
the checker that names the offending path. A test holds the two paths byte-identical.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import rfc8785

from directory.errors import InvalidInput

MAX_BYTES = 64 * 1024
MAX_DEPTH = 16
MAX_SAFE_INTEGER = 2**53 - 1


class CanonicalError(InvalidInput):
    """Input is not canonical JSON under the profile; the message says what and where."""

    code = "not_canonical"


class TooLarge(CanonicalError):
    """Canonical JSON over the size limit: callers that know what made it big can say so."""

    def __init__(self, message: str, size: int, limit: int) -> None:
        super().__init__(message)
        self.size = size
        self.limit = limit


def canonical_bytes(obj: Any, *, max_bytes: int | None = None) -> bytes:
    """The RFC 8785 serialisation of `obj`, after checking it against the profile.

    `max_bytes` exists for containers of signed payloads (envelopes), whose base64 payload alone can
    exceed the payload limit; signed payloads themselves use the default, MAX_BYTES (read at each call,
    so the benchmark can lift it in-process).
    """
    if _plain(obj, 0):
        data = _FAST.encode(obj).encode("utf-8")
    else:
        _check_value(obj, "$", 0)
        try:
            data = rfc8785.dumps(obj)
        except rfc8785.CanonicalizationError as exc:  # our checks run first; this is a second line
            raise CanonicalError(f"cannot canonicalise: {exc}") from exc
    limit = MAX_BYTES if max_bytes is None else max_bytes
    if len(data) > limit:
        raise TooLarge(f"canonical JSON is {len(data)} bytes; the limit is {limit}", len(data), limit)
    return data


def parse_canonical(data: bytes, *, max_bytes: int | None = None) -> Any:
    """Parse signed bytes, requiring them to be exactly the canonical form of their own value.

    Member names need no uniqueness check on the way in: canonical bytes never repeat a name, so bytes
    that do cannot equal the re-serialisation and are refused (with the precise reason) below.
    """
    value = _load(data, max_bytes, None)
    if canonical_bytes(value, max_bytes=max_bytes) != bytes(data):
        load_strict(data, max_bytes=max_bytes)  # raises "duplicate member name" when that is the cause
        raise CanonicalError("payload is not canonical")
    return value


def load_strict(data: bytes, *, max_bytes: int | None = None) -> Any:
    """Parse JSON under the profile without requiring canonical form (used for unsigned wrappers)."""
    return _load(data, max_bytes, _unique_members)


def _load(data: bytes, max_bytes: int | None,
          pairs_hook: Callable[[list[tuple[str, Any]]], dict[str, Any]] | None) -> Any:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CanonicalError(f"expected bytes, got {type(data).__name__}")
    limit = MAX_BYTES if max_bytes is None else max_bytes
    # Size first: every later step costs time proportional to the input.
    if len(data) > limit:
        raise TooLarge(f"JSON is {len(data)} bytes; the limit is {limit}", len(data), limit)
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CanonicalError(f"not valid UTF-8 at byte {exc.start}") from exc
    try:
        value = json.loads(
            text,
            object_pairs_hook=pairs_hook,
            parse_float=_reject_float,
            parse_constant=_reject_constant,
        )
    except CanonicalError:
        raise
    except RecursionError as exc:
        raise CanonicalError(f"JSON is nested more than {MAX_DEPTH} levels deep") from exc
    except ValueError as exc:  # JSONDecodeError, and int() refusing a huge digit string
        raise CanonicalError(f"not valid JSON: {exc}") from exc
    if not _plain(value, 0):
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


# The C encoder: sorted names, no spaces, UTF-8 text unescaped; it refuses NaN and the infinities, and
# `_plain` has already refused every float.
_FAST = json.JSONEncoder(ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":"))


def _plain(value: Any, depth: int) -> bool:
    """True when `value` certainly meets the profile and may take the fast path (see the docstring).

    False means "not certainly": the reference checker then decides, and names the path at fault.
    Exact type checks on purpose: subclasses (IntEnum, str enums) take the reference path. Scalars
    inside containers are checked inline (`_scalar`), as most values are scalars and calls cost.
    """
    kind = type(value)
    if kind is dict:
        if depth >= MAX_DEPTH:
            return False
        for name, member in value.items():
            if type(name) is not str or not (name.isascii() or _plain_name(name)):
                return False
            if not _scalar(member) and not _plain(member, depth + 1):
                return False
        return True
    if kind is list:
        if depth >= MAX_DEPTH:
            return False
        return all(_scalar(item) or _plain(item, depth + 1) for item in value)
    return _scalar(value)


def _scalar(value: Any) -> bool:
    """True for a scalar that meets the profile (False for containers and anything doubtful)."""
    kind = type(value)
    if kind is str:
        return value.isascii() or _plain_text(value)
    if kind is int:
        return bool(-MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER)
    return value is None or kind is bool


def _plain_text(text: str) -> bool:
    # No lone surrogates (they would not encode) and NFC; ASCII text is both by construction.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return unicodedata.is_normalized("NFC", text)


def _plain_name(name: str) -> bool:
    # Above U+FFFF, code point order and RFC 8785's UTF-16 order disagree: the reference path sorts.
    return max(name) <= "\uffff" and _plain_text(name)


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
