"""What differs between OpenLDAP and Active Directory, as data plus two small functions.

Everything else (paging, completeness checks, group resolution, the plan) is shared, so both profiles
run through the same code the slapd tests exercise; the AD specifics (objectGUID, the
userAccountControl bit, nested groups) are small enough to be tested with ldap3's mock.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import parse_dn

# userAccountControl flag ACCOUNTDISABLE (MS-ADTS 2.2.16).
AD_ACCOUNT_DISABLED = 0x2
# LDAP_MATCHING_RULE_IN_CHAIN: AD evaluates group membership transitively (MS-ADTS 3.1.1.3.4.4.3).
IN_CHAIN = "1.2.840.113556.1.4.1941"

RawAttributes = Mapping[str, Sequence[bytes]]


@dataclass(frozen=True)
class Profile:
    name: str
    # Operational attribute holding a server-assigned id that survives renames and moves.
    id_attribute: str
    decode_id: Callable[[bytes], str]
    # Filter that selects group entries, used when walking nested groups.
    group_filter: str
    default_attributes: Mapping[str, tuple[str, ...]]
    # Attributes the profile needs besides the mapped ones.
    extra_attributes: tuple[str, ...]
    is_disabled: Callable[[RawAttributes], bool]


def _decode_entry_uuid(raw: bytes) -> str:
    return str(uuid.UUID(raw.decode("ascii")))


def _decode_object_guid(raw: bytes) -> str:
    # objectGUID is 16 bytes in Microsoft's mixed-endian GUID layout; a string form (as some fakes and
    # LDIF exports carry it) is accepted too so ids never depend on how the value was seeded.
    if len(raw) == 16:
        return str(uuid.UUID(bytes_le=raw))
    return str(uuid.UUID(raw.decode("ascii").strip("{}")))


def _never_disabled(attributes: RawAttributes) -> bool:
    return False


def _ad_disabled(attributes: RawAttributes) -> bool:
    for value in first_values(attributes, "userAccountControl"):
        try:
            return bool(int(value) & AD_ACCOUNT_DISABLED)
        except ValueError:
            # An unreadable flag word is treated as disabled: listing someone who may have left is
            # worse than hiding someone until the directory is fixed.
            return True
    return False


_PERSON_ATTRIBUTES = {
    "display_name": ("displayName", "cn"),
    "email": ("mail",),
    "phone": ("telephoneNumber",),
    "title": ("title",),
    "languages": ("preferredLanguage",),
}

OPENLDAP = Profile(
    name="openldap",
    id_attribute="entryUUID",
    decode_id=_decode_entry_uuid,
    group_filter="(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))",
    default_attributes=_PERSON_ATTRIBUTES,
    extra_attributes=(),
    is_disabled=_never_disabled,  # OpenLDAP accounts are disabled through `disabled_filter`
)

ACTIVE_DIRECTORY = Profile(
    name="active_directory",
    id_attribute="objectGUID",
    decode_id=_decode_object_guid,
    group_filter="(objectClass=group)",
    default_attributes=_PERSON_ATTRIBUTES,
    extra_attributes=("userAccountControl",),
    is_disabled=_ad_disabled,
)

PROFILES = {p.name: p for p in (OPENLDAP, ACTIVE_DIRECTORY)}


def first_values(attributes: RawAttributes, name: str) -> list[str]:
    """Decoded values of attribute `name` (case-insensitive, as LDAP attribute names are)."""
    wanted = name.lower()
    for key, values in attributes.items():
        if key.lower() == wanted:
            return [decode(v) for v in values]
    return []


def decode(value: bytes | str) -> str:
    # Invalid UTF-8 from a hostile or broken directory becomes U+FFFD instead of aborting the sync.
    return value if isinstance(value, str) else value.decode("utf-8", errors="replace")


@lru_cache(maxsize=8192)
def normalise_dn(dn: str) -> str:
    """A comparable form of a DN: attribute types and values case-folded, spacing removed.

    Group member lists, memberOf values and the configuration spell the same DN differently
    (`CN=Liaison, OU=Groups` against `cn=liaison,ou=groups`); comparing raw strings would drop members.
    Cached, because every user repeats the same few memberOf values.
    """
    if not any(c in dn for c in '\\"+;<>#'):
        # No escapes, quotes or multi-valued RDNs: splitting is exact, and much cheaper than parse_dn.
        parts = (rdn.split("=", 1) for rdn in dn.split(","))
        pairs = [(p[0].strip().lower(), p[1].strip().lower()) for p in parts if len(p) == 2]
        if len(pairs) == dn.count(",") + 1 and all(a and v for a, v in pairs):
            return ",".join(f"{a}={v}" for a, v in pairs)
    try:
        parts = parse_dn(dn, escape=False, strip=True)
    except LDAPException:
        return dn.strip().lower()
    return "".join(f"{attr.lower()}={value.lower()}{sep}" for attr, value, sep in parts)


def member_of_clause(group_dn: str) -> str:
    return f"(memberOf={escape_filter_chars(group_dn)})"


def in_chain_clause(group_dn: str) -> str:
    return f"(memberOf:{IN_CHAIN}:={escape_filter_chars(group_dn)})"


def any_of(clauses: Sequence[str]) -> str:
    return clauses[0] if len(clauses) == 1 else "(|" + "".join(clauses) + ")"


def both(first: str, second: str) -> str:
    return f"(&{first}{second})"
