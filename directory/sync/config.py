"""LDAP sync sources as configured by the administrator in a TOML file (`DIRECTORY_SYNC_CONFIG`).

The file is parsed strictly: unknown keys, wrong types and unsafe combinations are refused with the file,
the source and the key at fault, because a typo in a sync configuration silently deactivates people.
Passwords are never part of a `SourceConfig`: it names where the password lives (an environment variable
or a file) and `read_password()` fetches it at bind time, so nothing that prints or stores the
configuration can leak it.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlparse

from ldap3.core.exceptions import LDAPException
from ldap3.operation.search import parse_filter
from ldap3.utils.dn import parse_dn

from directory.errors import ConfigurationError
from directory.vocabulary import REQUEST_TYPES

PROFILES: Final = ("openldap", "active_directory")
MEMBERSHIPS: Final = ("member", "member_of")
NESTED: Final = ("none", "in_chain", "walk")
# Directory fields an LDAP attribute can feed; each maps to one or more attributes, tried in order.
MAPPED_FIELDS: Final = ("display_name", "email", "phone", "title", "languages")

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
# An attribute description: a name or an OID, with options such as `;binary` or `;lang-en`.
_ATTRIBUTE = re.compile(r"^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)(;[A-Za-z0-9-]+)*$")
_REQUIRED: Final = object()


@dataclass(frozen=True)
class GroupRule:
    """Members of `dn` are designated contacts authorised for `request_types`."""

    dn: str
    request_types: tuple[str, ...]
    emergency: bool = False


@dataclass(frozen=True)
class SourceConfig:
    name: str
    url: str
    base_dn: str
    organisation: str
    groups: tuple[GroupRule, ...]
    profile: str = "openldap"
    start_tls: bool = False
    ca_file: str | None = None
    bind_dn: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    user_filter: str = "(objectClass=inetOrgPerson)"
    disabled_filter: str | None = None
    group_base_dn: str = ""
    membership: str = "member"
    nested_groups: str = "none"
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    schedule_minutes: int = 60
    max_deactivation_ratio: float = 0.2
    allow_insecure: bool = False
    page_size: int = 500
    time_limit_seconds: int = 120
    timeout_seconds: int = 30
    reverify_days: int = 30
    file: str = ""

    @property
    def source_tag(self) -> str:
        """The `source` value of contacts this source owns."""
        return f"ldap:{self.name}"

    @property
    def uses_tls(self) -> bool:
        return self.start_tls or urlparse(self.url).scheme == "ldaps"

    def read_password(self) -> str | None:
        """The bind password, read now from its environment variable or file; None for anonymous binds."""
        where = f"{self.file}: source {self.name!r}"
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ConfigurationError(f"{where}: key 'password_env': environment variable "
                                         f"{self.password_env} is not set")
            return value
        if self.password_file:
            try:
                # A trailing newline is an editor artefact, never part of the password.
                return Path(self.password_file).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise ConfigurationError(f"{where}: key 'password_file': cannot read "
                                         f"{self.password_file}: {exc.strerror}") from exc
        return None


class _Table:
    """Typed reads from one TOML table; every error names the file, the source and the key."""

    def __init__(self, data: Mapping[str, Any], where: str, prefix: str = "") -> None:
        self.data = data
        self.where = where
        self.prefix = prefix
        self.seen: set[str] = set()

    def fail(self, key: str, problem: str) -> ConfigurationError:
        return ConfigurationError(f"{self.where}: key {self.prefix + key!r}: {problem}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = _REQUIRED) -> Any:
        self.seen.add(key)
        if key not in self.data:
            if default is _REQUIRED:
                raise self.fail(key, "is required")
            return default
        value = self.data[key]
        # bool is an int in Python; a `true` where a number belongs is a mistake, not 1.
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float, (int, float))):
            raise self.fail(key, f"must be {_kind_name(kind)}, not {type(value).__name__}")
        return value

    def text(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self.get(key, str, default)
        if isinstance(value, str) and not value.strip():
            raise self.fail(key, "must not be empty")
        return value

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value: int = self.get(key, int, default)
        if not low <= value <= high:
            raise self.fail(key, f"must be between {low} and {high}")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value: str = self.get(key, str, default)
        if value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    def dn(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self.text(key, default)
        if isinstance(value, str):
            _check_dn(value, lambda problem: self.fail(key, problem))
        return value

    def search_filter(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self.text(key, default)
        if isinstance(value, str):
            try:
                parse_filter(value, None, False, False, None, False)
            except LDAPException as exc:
                raise self.fail(key, f"not a valid LDAP filter: {exc}") from exc
        return value

    def reject_unknown(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise self.fail(unknown[0], "unknown key (a typo?)")


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
             list: "a list", dict: "a table"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _check_dn(value: str, fail: Any) -> None:
    try:
        parse_dn(value)
    except LDAPException as exc:
        raise fail(f"not a valid DN: {exc}") from exc


def load_sources(path: str | os.PathLike[str]) -> dict[str, SourceConfig]:
    """Every source in the file, by name. Raises ConfigurationError naming the file, source and key."""
    file = str(path)
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"{file}: cannot read the sync configuration: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{file}: not valid TOML: {exc}") from exc
    top = _Table(raw, file)
    tables = top.get("source", list)
    top.reject_unknown()
    sources: dict[str, SourceConfig] = {}
    for index, table in enumerate(tables):
        if not isinstance(table, dict):
            raise ConfigurationError(f"{file}: source #{index + 1}: must be a table ([[source]])")
        source = _parse_source(table, file, index)
        if source.name in sources:
            raise ConfigurationError(f"{file}: source {source.name!r}: key 'name': defined twice")
        sources[source.name] = source
    return sources


def load_source(path: str | os.PathLike[str], name: str) -> SourceConfig:
    sources = load_sources(path)
    if name not in sources:
        known = ", ".join(sorted(sources)) or "none"
        raise ConfigurationError(f"{path}: no source named {name!r} (configured: {known})")
    return sources[name]


def _parse_source(data: Mapping[str, Any], file: str, index: int) -> SourceConfig:
    name = data.get("name")
    label = f"source {name!r}" if isinstance(name, str) else f"source #{index + 1}"
    table = _Table(data, f"{file}: {label}")
    name = table.text("name")
    if not _NAME.match(name):
        raise table.fail("name", "use 1-40 lower-case letters, digits, '-' or '_'")
    profile = table.choice("profile", PROFILES, "openldap")
    ad = profile == "active_directory"
    base_dn = table.dn("base_dn")
    groups = _parse_groups(table, file, name)
    values: dict[str, Any] = {
        "name": name, "profile": profile, "base_dn": base_dn, "groups": groups, "file": file,
        "url": table.text("url"),
        "start_tls": table.get("start_tls", bool, False),
        "ca_file": table.text("ca_file", None),
        "bind_dn": table.dn("bind_dn", None),
        "password_env": table.text("password_env", None),
        "password_file": table.text("password_file", None),
        "user_filter": table.search_filter(
            "user_filter", "(&(objectCategory=person)(objectClass=user))" if ad
            else "(objectClass=inetOrgPerson)"),
        # ppolicy's lock marker by default; any filter over a site's own "disabled" attribute works too.
        "disabled_filter": table.search_filter("disabled_filter", None if ad else "(pwdAccountLockedTime=*)"),
        "group_base_dn": (table.dn("group_base_dn", None)
                          or _common_suffix([base_dn, *(g.dn for g in groups)])),
        "membership": table.choice("membership", MEMBERSHIPS, "member_of" if ad else "member"),
        "nested_groups": table.choice("nested_groups", NESTED, "in_chain" if ad else "none"),
        "organisation": table.text("organisation"),
        "schedule_minutes": table.integer("schedule_minutes", 60, 1, 7 * 24 * 60),
        "allow_insecure": table.get("allow_insecure", bool, False),
        "page_size": table.integer("page_size", 500, 1, 10_000),
        "time_limit_seconds": table.integer("time_limit_seconds", 120, 1, 3600),
        "timeout_seconds": table.integer("timeout_seconds", 30, 1, 600),
        "reverify_days": table.integer("reverify_days", 30, 1, 365),
        "attributes": _parse_attributes(table, file, name),
    }
    ratio = table.get("max_deactivation_ratio", (int, float), 0.2)
    if not 0 <= ratio <= 1:
        raise table.fail("max_deactivation_ratio", "must be between 0 and 1")
    values["max_deactivation_ratio"] = float(ratio)
    table.reject_unknown()
    _check_transport(table, values)
    _check_nesting(table, values)
    return SourceConfig(**values)


def _parse_groups(table: _Table, file: str, name: str) -> tuple[GroupRule, ...]:
    raw = table.get("groups", list)
    if not raw:
        raise table.fail("groups", "at least one group is required: only group members are designated")
    rules = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise table.fail(f"groups[{index}]", "must be a table ([[source.groups]])")
        group = _Table(item, f"{file}: source {name!r}", f"groups[{index}].")
        dn = group.dn("dn")
        types = group.get("request_types", list, [])
        for value in types:
            if value not in REQUEST_TYPES:
                raise group.fail("request_types", f"unknown request type {value!r} "
                                 f"(known: {', '.join(REQUEST_TYPES)})")
        emergency = group.get("emergency", bool, False)
        if not types and not emergency:
            raise group.fail("request_types", "give request types or `emergency = true`")
        group.reject_unknown()
        rules.append(GroupRule(dn=dn, request_types=tuple(types), emergency=emergency))
    return tuple(rules)


def _parse_attributes(table: _Table, file: str, name: str) -> dict[str, tuple[str, ...]]:
    raw = table.get("attributes", dict, {})
    mapping = _Table(raw, f"{file}: source {name!r}", "attributes.")
    result: dict[str, tuple[str, ...]] = {}
    for key in MAPPED_FIELDS:
        value = mapping.get(key, (str, list), None)
        if value is None:
            continue
        names = [value] if isinstance(value, str) else value
        if not names or not all(isinstance(n, str) and _ATTRIBUTE.match(n) for n in names):
            raise mapping.fail(key, "must be an LDAP attribute name or a list of them")
        result[key] = tuple(names)
    mapping.reject_unknown()
    return result


def _check_transport(table: _Table, values: dict[str, Any]) -> None:
    url = urlparse(values["url"])
    if url.scheme not in {"ldap", "ldaps"} or not url.hostname:
        raise table.fail("url", "must be ldap://host[:port] or ldaps://host[:port]")
    if url.path not in {"", "/"} or url.query:
        raise table.fail("url", "give the base DN in `base_dn`, not in the URL")
    if url.scheme == "ldaps" and values["start_tls"]:
        raise table.fail("start_tls", "ldaps:// is already TLS; StartTLS is for ldap:// URLs")
    if values["password_env"] and values["password_file"]:
        raise table.fail("password_file", "give password_env or password_file, not both")
    has_password = bool(values["password_env"] or values["password_file"])
    if values["bind_dn"] and not has_password:
        raise table.fail("bind_dn", "needs password_env or password_file (passwords are never stored)")
    if has_password and not values["bind_dn"]:
        raise table.fail("bind_dn", "is required when a password is configured")
    plain = url.scheme == "ldap" and not values["start_tls"]
    # A simple bind sends the password as it is: over plain LDAP anyone on the path reads it.
    if plain and has_password and not values["allow_insecure"]:
        raise table.fail("url", "plain ldap:// would send the password unencrypted; use ldaps://, "
                         "start_tls = true, or allow_insecure = true")
    ca_file = values["ca_file"]
    if ca_file and not Path(ca_file).is_file():
        raise table.fail("ca_file", f"{ca_file} does not exist")


def _check_nesting(table: _Table, values: dict[str, Any]) -> None:
    if values["nested_groups"] != "none" and values["membership"] != "member_of":
        raise table.fail("nested_groups", 'nested groups are resolved through memberOf: set membership = '
                         '"member_of"')
    # OpenLDAP does not know the in-chain rule and answers "success, no entries": nested members would
    # silently be missing. Walking memberOf works there (with the memberof overlay).
    if values["nested_groups"] == "in_chain" and values["profile"] != "active_directory":
        raise table.fail("nested_groups", '"in_chain" is an Active Directory rule; use "walk" on OpenLDAP')


def _common_suffix(dns: list[str]) -> str:
    """The deepest DN that contains all of `dns`: where nested groups are searched by default."""
    split = [[rdn.strip() for rdn in _rdns(dn)] for dn in dns]
    suffix: list[str] = []
    for parts in zip(*(reversed(s) for s in split), strict=False):
        if len({p.lower() for p in parts}) != 1:
            break
        suffix.insert(0, parts[0])
    return ",".join(suffix)


def _rdns(dn: str) -> list[str]:
    """The RDNs of `dn` in their original spelling (escaped commas stay inside their RDN)."""
    rdns: list[str] = []
    current = ""
    for attribute, value, separator in parse_dn(dn):
        current += f"{attribute}={value}"
        if separator == "+":
            current += "+"
        else:
            rdns.append(current)
            current = ""
    return rdns
