"""Turning one directory user into the LDAP-owned fields of a contact, treating every value as hostile.

Directory values end up on pages officers read and in signed documents other nodes import, and anyone
who can edit their own LDAP entry controls them. So every text is normalised (NFC), stripped of control
and bidirectional-override characters and markup brackets, and capped; emails and phone numbers are
validated and normalised; a value that fails is dropped with a note in the plan rather than stopping the
sync. A user without any usable email cannot be a contact (nobody could reach or verify them) and is
skipped with the reason.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

import phonenumbers
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES

from directory import validators
from directory.sync.config import SourceConfig
from directory.sync.profiles import PROFILES
from directory.sync.source import DirectoryUser
from directory.vocabulary import REQUEST_TYPES, REQUESTING_KINDS

MAX_NAME: Final = 200
MAX_TITLE: Final = 200
MAX_EMAIL: Final = 254  # RFC 5321 path limit
MAX_PHONES: Final = 5
MAX_LANGUAGES: Final = 10
# Longer raw values are not even parsed: no real phone number or language list is this long.
MAX_RAW: Final = 256
# Bidi embeddings, overrides and isolates: they let a name display as something else.
_BIDI_CONTROLS: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
# ZWJ/ZWNJ are format characters too but are part of correct spelling in several scripts.
_KEEP_FORMAT: Final = frozenset("\u200c\u200d")


@dataclass(frozen=True)
class Mapped:
    fields: dict[str, Any]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unusable:
    reason: str


def clean_text(value: str, limit: int) -> tuple[str, bool]:
    """`value` made safe to store and display, and whether it had to be shortened."""
    if value.isascii() and value.isprintable() and "<" not in value and ">" not in value:
        # The common case, checked in C: no control, format or markup characters to remove.
        text = " ".join(value.split())
        return (text[:limit].rstrip(), True) if len(text) > limit else (text, False)
    value = unicodedata.normalize("NFC", value)
    kept = []
    for char in value:
        category = unicodedata.category(char)
        if category == "Cc" or char in _BIDI_CONTROLS:
            kept.append(" ")  # a newline or tab separated words: keep them apart
        elif (category == "Cf" and char not in _KEEP_FORMAT) or category in {"Cs", "Co", "Cn"}:
            continue
        elif char in "<>":
            continue  # markup never belongs in a name; pages escape too, this keeps exports clean
        else:
            kept.append(char)
    text = " ".join("".join(kept).split())
    if len(text) > limit:
        return text[:limit].rstrip(), True
    return text, False


def short(value: str) -> str:
    """A value as it may appear in a plan note: cleaned and short, so the note itself is safe."""
    text, cut = clean_text(value, 40)
    return repr(text + ("…" if cut else ""))


def map_user(user: DirectoryUser, config: SourceConfig, organisation: Mapping[str, Any]) -> Mapped | Unusable:
    """The LDAP-owned contact fields for `user`, or why the user cannot be listed."""
    attrs = {**PROFILES[config.profile].default_attributes, **config.attributes}
    notes: list[str] = []
    email = _choose_email(_values(user, attrs["email"]), organisation.get("official_email_domains") or (),
                          notes)
    if email is None:
        return Unusable("no usable email address" + (f" ({'; '.join(notes)})" if notes else ""))
    name = _first_text(user, attrs["display_name"], MAX_NAME, "name", notes) or email
    title = _first_text(user, attrs["title"], MAX_TITLE, "title", notes) or None
    rules = [g for g in config.groups if g.dn in user.groups]
    granted = {t for g in rules for t in g.request_types}
    request_types = [t for t in REQUEST_TYPES if t in granted]
    requesting = organisation.get("kind") in REQUESTING_KINDS
    fields = {
        "kind": "person",
        "display_name": name,
        "title": title,
        "email": email,
        "phones": _phones(_values(user, attrs["phone"]), organisation.get("country"), notes),
        "languages": _languages(_values(user, attrs["languages"]), notes),
        "authorised_request_types": request_types if requesting else [],
        "handles_request_types": [] if requesting else request_types,
        "emergency": any(g.emergency for g in rules),
    }
    return Mapped(fields, tuple(notes))


def _values(user: DirectoryUser, names: Iterable[str]) -> list[str]:
    return [v for name in names for v in user.values(name)]


def _first_text(user: DirectoryUser, names: Sequence[str], limit: int, what: str, notes: list[str]) -> str:
    for raw in _values(user, names):
        text, cut = clean_text(raw, limit)
        if text:
            if cut:
                notes.append(f"{what} shortened to {limit} characters")
            return text
    return ""


def _choose_email(candidates: list[str], official: Iterable[str], notes: list[str]) -> str | None:
    """The address to list: one in the organisation's official domains if there is one (it is what
    requesters are checked against), else the first valid one, with a note."""
    valid: list[str] = []
    for raw in candidates:
        address = _valid_email(raw)
        if address is None:
            notes.append(f"ignored invalid email {short(raw)}")
        elif address not in valid:
            valid.append(address)
    if not valid:
        return None
    domains = [d.lower().strip(".") for d in official]
    for address in valid:
        host = address.rsplit("@", 1)[1].lower()
        if any(host == d or host.endswith("." + d) for d in domains):
            return address
    if domains:
        notes.append("no email address in the organisation's official domains")
    return valid[0]


# Validation is a pure function of the raw value and dominates the cost of a sync (phonenumbers and
# email-validator run regexes per value); the scheduler re-reads the same values every run.
_MEMO = 65_536


@lru_cache(maxsize=_MEMO)
def _valid_email(raw: str) -> str | None:
    value = raw.strip()
    if not value or len(value) > MAX_EMAIL:
        return None
    known = _same_domain_email(value)
    if known is not None:
        return known
    try:
        return validators.email(value)
    except ValueError:
        return None


# A local part email-validator returns unchanged: a plain ASCII dot-atom (its DOT_ATOM_TEXT, narrowed).
_PLAIN_LOCAL = re.compile(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*")


def _same_domain_email(value: str) -> str | None:
    """validators.email(value) without re-validating a domain already seen, or None to ask it.

    Checking the domain is most of email-validator's work and a directory's addresses share a few
    domains. For an ASCII address whose local part is a plain dot-atom, email-validator returns the
    local part as given (lower-cased only for the role names it lists) and the domain as it normalised
    it for any other address, within 254 characters: that is what this composes. A test compares it
    with validators.email over generated addresses.
    """
    local, at, domain = value.partition("@")
    if not at or not value.isascii() or not _PLAIN_LOCAL.fullmatch(local):
        return None
    if local.lower() in CASE_INSENSITIVE_MAILBOX_NAMES:
        return None
    normalised = _email_domain(domain)
    if normalised is None or len(local) + 1 + len(normalised) > MAX_EMAIL:
        return None
    return f"{local}@{normalised}"


@lru_cache(maxsize=4096)
def _email_domain(domain: str) -> str | None:
    """The domain as validators.email normalises it, when that is plain ASCII; else None."""
    try:
        normalised = validators.email(f"a@{domain}").partition("@")[2]
    except ValueError:
        return None
    return normalised if normalised.isascii() else None


def _phones(raws: list[str], country: Any, notes: list[str]) -> list[str]:
    region = country.upper() if isinstance(country, str) and len(country) == 2 else None
    phones: list[str] = []
    for raw in raws:
        number = _valid_phone(raw, region)
        if number is None:
            notes.append(f"dropped invalid phone number {short(raw)}")
        elif number not in phones:
            phones.append(number)
    if len(phones) > MAX_PHONES:
        notes.append(f"kept the first {MAX_PHONES} of {len(phones)} phone numbers")
    return phones[:MAX_PHONES]


@lru_cache(maxsize=_MEMO)
def _valid_phone(raw: str, region: str | None) -> str | None:
    if len(raw) > MAX_RAW:
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    # Stricter than the API's check (valid, not merely possible), so what is stored always passes it:
    # directory data is typed by hand, and a typo should not become a listed number.
    if not phonenumbers.is_valid_number(number):
        return None
    e164: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164


def _languages(raws: list[str], notes: list[str]) -> list[str]:
    """BCP 47 tags from values such as `en-GB` or the Accept-Language form `en-gb, fr;q=0.8` (RFC 2798)."""
    tags: list[str] = []
    for raw in raws:
        if len(raw) > MAX_RAW:
            notes.append(f"dropped invalid language {short(raw)}")
            continue
        for part in raw.split(","):
            tag = part.split(";", 1)[0].strip()
            if not tag:
                continue
            standard = _valid_language(tag)
            if standard is None:
                notes.append(f"dropped invalid language {short(tag)}")
            elif standard not in tags:
                tags.append(standard)
    return tags[:MAX_LANGUAGES]


@lru_cache(maxsize=4096)
def _valid_language(tag: str) -> str | None:
    try:
        return validators.language(tag.replace("_", "-"))
    except ValueError:
        return None
