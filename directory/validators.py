"""Value checks shared by the API schemas, the LDAP sync and the seeds.

Each function returns the normalised value or raises `ValueError` with a message a user can act on; the
HTTP layer turns that into a 422 naming the field.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from zoneinfo import available_timezones

import email_validator
import idna
import langcodes
import phonenumbers
import pycountry

ASN_MAX = 4294967294  # 4294967295 is reserved (RFC 7300)
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def country(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"not an ISO 3166-1 alpha-2 country code: {value!r}")
    return code


def phone(value: str) -> str:
    """E.164 only: the directory is read across borders, so numbers must carry their country code."""
    if not value.startswith("+"):
        raise ValueError("phone numbers must be in E.164 form, starting with + and the country code")
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc}") from None
    if not phonenumbers.is_possible_number(parsed):
        raise ValueError("not a possible phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def email(value: str) -> str:
    try:
        result = email_validator.validate_email(value, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    # The local part keeps its case (RFC 5321); the domain is compared case-insensitively everywhere.
    return str(result.normalized)


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    # `localtime` is the host's own zone file, not an IANA name: each node would read other hours.
    return frozenset(available_timezones()) - {"localtime"}


def timezone(value: str) -> str:
    if value not in _zones():
        raise ValueError(f"not an IANA time zone: {value!r}")
    return value


def language(value: str) -> str:
    if not langcodes.tag_is_valid(value):
        raise ValueError(f"not a BCP 47 language tag: {value!r}")
    return str(langcodes.standardize_tag(value))


def domain(value: str) -> str:
    """A DNS name in its ASCII (A-label) form, lower case, without a trailing dot."""
    name = value.strip().rstrip(".").lower()
    try:
        ascii_name = idna.encode(name, uts46=True).decode("ascii") if name else ""
    except idna.IDNAError as exc:
        raise ValueError(f"not a domain name: {exc}") from None
    labels = ascii_name.split(".")
    if len(labels) < 2 or len(ascii_name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"not a domain name: {value!r}")
    return ascii_name


def ip_prefix(value: str) -> str:
    try:
        network = ipaddress.ip_network(value.strip(), strict=True)
    except ValueError as exc:
        raise ValueError(f"not an IP prefix: {exc}") from None
    return str(network)


def asn(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= ASN_MAX:
        raise ValueError(f"not an AS number (1-{ASN_MAX}): {value!r}")
    return value


def fingerprint(value: str) -> str:
    """Full OpenPGP v4 fingerprint: identity is never a short or long key id."""
    fpr = value.replace(" ", "").upper()
    if not re.fullmatch(r"[0-9A-F]{40}", fpr):
        raise ValueError("a key fingerprint is 40 hexadecimal digits (short key ids are not accepted)")
    return fpr


def url(value: str) -> str:
    if not re.match(r"^https?://[^\s/$.?#][^\s]*$", value, re.IGNORECASE) or len(value) > 2000:
        raise ValueError("not an http(s) URL")
    return value
