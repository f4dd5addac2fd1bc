"""The fast path of canonical JSON (C encoder) against the reference path (checker + rfc8785)."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from directory.keys import canonical
from directory.keys.canonical import CanonicalError, canonical_bytes, load_strict, parse_canonical

BIG = 1 << 30
# Every kind of character the two paths treat differently: ASCII controls and escapes, Latin-1,
# combining marks (NFC or not), the top of the BMP and astral characters, and lone surrogates.
text = st.text(st.one_of(st.characters(codec=None), st.sampled_from(
    ["\x00", "\x1f", "\x7f", "\"", "\\", "\u2028", "e", "\u0301", "\u00e9", "\ufb01", "\uffff", "\U0001f600",
     "\ud800"])), max_size=8)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**54), 2**54), text,
                    st.floats(allow_nan=True, allow_infinity=True))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.lists(inner, max_size=3).map(tuple),
    st.dictionaries(text, inner, max_size=4)), max_leaves=20)


def reference(value: Any) -> bytes:
    canonical._check_value(value, "$", 0)
    return rfc8785.dumps(value)


@settings(max_examples=600, deadline=None)
@given(values)
def test_fast_path_writes_the_reference_bytes_or_refuses_alike(value: Any) -> None:
    try:
        expected = reference(value)
    except (CanonicalError, rfc8785.CanonicalizationError):
        with pytest.raises(CanonicalError):
            canonical_bytes(value, max_bytes=BIG)
        return
    assert canonical_bytes(value, max_bytes=BIG) == expected
    assert canonical_bytes(parse_canonical(expected, max_bytes=BIG), max_bytes=BIG) == expected


@pytest.mark.parametrize("name", ["\U0001f600", "a\U0001f600", "\ufb01"])
def test_astral_member_names_sort_by_utf16(name: str) -> None:
    doc = {name: 1, "\ufb01x": 2, "\uffff": 3}
    assert canonical_bytes(doc) == rfc8785.dumps(doc)


def test_duplicate_names_in_signed_bytes_are_named() -> None:
    with pytest.raises(CanonicalError, match="duplicate member name 'a'"):
        parse_canonical(b'{"a":1,"a":1}')
    with pytest.raises(CanonicalError, match="duplicate member name 'a'"):
        load_strict(b'{"a":1,"a":2}')


def test_refusals_still_name_the_path() -> None:
    with pytest.raises(CanonicalError, match=r"\$\.contacts\[1\]\.n: float"):
        canonical_bytes({"contacts": [{}, {"n": 1.5}]})
    with pytest.raises(CanonicalError, match=r"\$\.x: string .* is not Unicode NFC"):
        canonical_bytes({"x": "e\u0301"})
