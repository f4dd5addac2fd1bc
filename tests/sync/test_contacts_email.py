"""The sync's shortcut for addresses in an already checked domain agrees with validators.email."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from directory import validators
from directory.sync import contacts

DOMAINS = ["corp.example", "CORP.Example", "mail.corp.example", "corp.example.", "corp..example",
           "-corp.example", "corp.local", "localhost", "xn--bcher-kva.example", "bücher.example",
           "a" * 64 + ".example",
           ("b" * 60 + ".") * 4 + "example", "corp.example@other.example", "corp example", "[192.0.2.1]",
           "123.example", "corp.invalid", "corp.test", "c_orp.example"]
local_parts = st.one_of(
    st.text(st.sampled_from("abcXYZ019._+-"), min_size=0, max_size=12),
    st.sampled_from(["postmaster", "Abuse", "SECURITY", "info", "john.smith", "John.Smith", "a" * 70,
                     ".lead", "trail.", "two..dots", "quo\"ted", "sp ace", "ü", "x" * 200]))


def full(value: str) -> str | None:
    try:
        return validators.email(value)
    except ValueError:
        return None


@settings(max_examples=800, deadline=None)
@given(local_parts, st.sampled_from(DOMAINS))
def test_shortcut_agrees_with_the_validator(local: str, domain: str) -> None:
    value = f"{local}@{domain}"
    if len(value) > contacts.MAX_EMAIL:
        return  # refused before either is asked
    shortcut = contacts._same_domain_email(value)
    if shortcut is not None:
        assert shortcut == full(value)
    contacts._valid_email.cache_clear()
    assert contacts._valid_email(value) == full(value)


def test_role_names_take_the_validator_path() -> None:
    assert contacts._same_domain_email("PostMaster@corp.example") is None
    assert contacts._valid_email("PostMaster@corp.example") == "postmaster@corp.example"
    assert contacts._same_domain_email("John.Smith@CORP.example") == "John.Smith@corp.example"
