"""The canonical JSON profile: RFC 8785 plus the directory's stricter rules."""

from __future__ import annotations

import json
from typing import Any

import pytest

from directory.errors import InvalidInput
from directory.keys import MAX_BYTES, MAX_DEPTH, CanonicalError, canonical_bytes, parse_canonical

SAFE = 2**53 - 1


def test_rfc8785_ordering_by_utf16_code_units() -> None:
    # U+1F600 is the surrogate pair D83D DE00 in UTF-16 and sorts *before* U+FB01 there, although its
    # code point is larger; "\r", digits and Latin-1 come first (RFC 8785 3.2.3).
    doc = {"\ufb01": 1, "\U0001f600": 2, "\u00f6": 3, "\u20ac": 4, "1": 5, "\r": 6, "\u0080": 7}
    data = canonical_bytes(doc)
    order = list(json.loads(data))
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb01"]
    assert data == ('{"\\r":6,"1":5,"\u0080":7,"\u00f6":3,"\u20ac":4,"\U0001f600":2,"\ufb01":1}').encode()


def test_rfc8785_serialisation() -> None:
    doc = {"b": [True, False, None, -0, 1, -(2**53 - 1)], "a": {"z": "\u00e9\n\"\\/", "y": ""}}
    assert canonical_bytes(doc) == (
        b'{"a":{"y":"","z":"\xc3\xa9\\n\\"\\\\/"},"b":[true,false,null,0,1,-9007199254740991]}')
    assert canonical_bytes((1, [2])) == b"[1,[2]]"


def test_round_trip_is_byte_identical() -> None:
    doc = {"entry_id": "urn:cpd:node-a.example:1", "iat": 1767225600, "names": ["Zürich", "東京"],
           "nested": {"list": [{"k": None}], "flag": False}}
    data = canonical_bytes(doc)
    assert parse_canonical(data) == doc
    assert canonical_bytes(parse_canonical(data)) == data


@pytest.mark.parametrize(("value", "message"), [
    (1.5, "float"),
    (1.0, "float"),
    ({"a": [0.1]}, r"\$\.a\[0\]: float"),
    (SAFE + 1, "outside"),
    (-SAFE - 1, "outside"),
    ({1: "x"}, "not a string"),
    ("e\u0301", "not Unicode NFC"),  # e + combining acute: NFC is the single code point U+00E9
    ({"e\u0301": 1}, "member name"),
    ("\ud800", "lone surrogate"),
    (b"bytes", "not a JSON value"),
    ({"a": {1, 2}}, "not a JSON value"),
])
def test_profile_rejects(value: Any, message: str) -> None:
    with pytest.raises(CanonicalError, match=message):
        canonical_bytes(value)


def test_limits_on_values() -> None:
    assert canonical_bytes(SAFE) == str(SAFE).encode()
    deep: Any = 1
    for _ in range(MAX_DEPTH):
        deep = [deep]
    canonical_bytes(deep)
    with pytest.raises(CanonicalError, match="nested more than"):
        canonical_bytes([deep])
    with pytest.raises(CanonicalError, match="limit is 65536"):
        canonical_bytes("x" * MAX_BYTES)


@pytest.mark.parametrize(("data", "message"), [
    (b'{"a":1,"a":2}', "duplicate member name 'a'"),
    (b'{"a":1.0}', "floats are not allowed"),
    (b'{"a":1e3}', "floats are not allowed"),
    (b'{"a":NaN}', "NaN is not allowed"),
    (b'[Infinity]', "Infinity is not allowed"),
    (b'[9007199254740992]', "outside"),
    (b'{"b":1, "a":2}', "payload is not canonical"),
    (b'{"b":1,"a":2}', "payload is not canonical"),  # member order
    (b'"\\u00e9"', "payload is not canonical"),  # needless escape
    (b'"e\xcc\x81"', "not Unicode NFC"),
    (b'"\\ud800"', "lone surrogate"),
    (b'"\xff"', "not valid UTF-8"),
    (b'\xef\xbb\xbf{}', "not valid JSON"),  # byte-order mark
    (b'{"a":1} ', "payload is not canonical"),
    (b'{"a":}', "not valid JSON"),
    (b'[' * 20 + b']' * 20, "nested more than"),
    (b'[' * 5000 + b']' * 5000, "nested more than"),
])
def test_parse_rejects(data: bytes, message: str) -> None:
    with pytest.raises(CanonicalError, match=message):
        parse_canonical(data)


def test_size_is_checked_before_parsing() -> None:
    with pytest.raises(CanonicalError, match="limit is 65536"):
        parse_canonical(b"[" * (MAX_BYTES + 1))
    with pytest.raises(CanonicalError, match="expected bytes"):
        parse_canonical("{}")  # type: ignore[arg-type]


def test_canonical_error_is_invalid_input() -> None:
    assert issubclass(CanonicalError, InvalidInput)
