"""Test doubles behind `DirectorySource`: an in-memory fake, and ldap3's MOCK_SYNC seeded like an Active
Directory domain controller. Both pass the contract in `test_contract.py` with the real slapd source.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ldap3 import MOCK_SYNC, NONE, SIMPLE, Connection, Server
from ldap3.core.exceptions import LDAPBindError

from directory.sync.config import SourceConfig
from directory.sync.source import Connector, DirectoryUser, Progress, Snapshot

AD_BASE = "DC=ad,DC=example"
AD_SERVICE = f"CN=svc-directory,OU=Service Accounts,{AD_BASE}"
AD_PASSWORD = "ad-secret"
NORMAL_ACCOUNT = 0x200
DISABLED_ACCOUNT = NORMAL_ACCOUNT | 0x2


@dataclass
class FakeSource:
    """Returns the users it was given, or raises the error it was given."""

    users: list[DirectoryUser] = field(default_factory=list)
    error: Exception | None = None
    fetches: int = 0

    def fetch(self, progress: Progress | None = None) -> Snapshot:
        self.fetches += 1
        if self.error is not None:
            raise self.error
        if progress is not None:
            progress(len(self.users))
        return Snapshot(users=tuple(self.users), entries_read=len(self.users))


def fake_user(name: str, *groups: str, disabled: bool = False, stable_id: str | None = None,
              **attributes: str | Sequence[str]) -> DirectoryUser:
    values = {"displayName": f"{name.title()} Example", "mail": f"{name}@corp.example", **attributes}
    return DirectoryUser(
        stable_id=stable_id or str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
        dn=f"uid={name},ou=people,dc=corp,dc=example",
        attributes={k.lower(): (v,) if isinstance(v, str) else tuple(v) for k, v in values.items()},
        groups=frozenset(groups), disabled=disabled)


@dataclass
class AdDirectory:
    """Entries for ldap3's mock, written the way a domain controller presents them: objectGUID as 16
    bytes, userAccountControl flags, and memberOf maintained on users *and* nested groups (the mock has
    no overlays, so the seeding does what AD does)."""

    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    guids: dict[str, uuid.UUID] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.entries[AD_SERVICE] = {"objectClass": ["top", "person", "user"], "userPassword": AD_PASSWORD,
                                    "sAMAccountName": "svc-directory"}

    def user(self, cn: str, ou: str = "OU=Staff", *, flags: int | str = NORMAL_ACCOUNT,
             guid: uuid.UUID | None = None, **attributes: Any) -> str:
        dn = f"CN={cn},{ou},{AD_BASE}"
        self.guids[cn] = guid or uuid.uuid4()
        self.entries[dn] = {
            "objectClass": ["top", "person", "organizationalPerson", "user"], "objectCategory": "person",
            "cn": cn, "objectGUID": self.guids[cn].bytes_le, "userAccountControl": str(flags),
            "displayName": cn.replace(".", " ").title(), "mail": f"{cn.lower()}@ad.example",
            "memberOf": [], **attributes}
        return dn

    def group(self, cn: str, members: Iterable[str] = ()) -> str:
        dn = f"CN={cn},OU=Groups,{AD_BASE}"
        self.entries[dn] = {"objectClass": ["top", "group"], "cn": cn, "objectGUID": uuid.uuid4().bytes_le,
                            "member": [], "memberOf": []}
        for member in members:
            self.add_member(dn, member)
        return dn

    def add_member(self, group_dn: str, member_dn: str) -> None:
        self.entries[group_dn]["member"].append(member_dn)
        self.entries[member_dn]["memberOf"].append(group_dn)

    def move(self, old_dn: str, new_dn: str) -> None:
        """A rename/move: same object (same objectGUID), new DN, back-links updated as AD does."""
        self.entries[new_dn] = self.entries.pop(old_dn)
        for attributes in self.entries.values():
            for link in ("member", "memberOf"):
                values = attributes.get(link)
                if isinstance(values, list) and old_dn in values:
                    values[values.index(old_dn)] = new_dn

    def connector(self) -> Connector:
        def connect(config: SourceConfig) -> Connection:
            # get_info=NONE: without a schema ldap3 hands the filter to the mock, as to a real server.
            conn = Connection(Server("dc.ad.example", get_info=NONE), user=config.bind_dn,
                              password=config.read_password(), authentication=SIMPLE,
                              client_strategy=MOCK_SYNC, read_only=True, auto_referrals=False,
                              raise_exceptions=False, return_empty_attributes=False)
            for dn, attributes in self.entries.items():
                conn.strategy.add_entry(dn, {k: v for k, v in attributes.items() if v != []})
            if not conn.bind():
                conn.unbind()
                raise LDAPBindError(f"bind failed: {conn.result['description']}")
            return conn

        return connect


def ad_config(groups: Mapping[str, Sequence[str]], **overrides: Any) -> SourceConfig:
    """An active_directory source over the mock: `groups` maps group DN -> request types."""
    from directory.sync.config import GroupRule

    values: dict[str, Any] = {
        "name": "ad", "url": "ldaps://dc.ad.example", "profile": "active_directory", "bind_dn": AD_SERVICE,
        "password_env": "DIRECTORY_TEST_AD_PASSWORD", "base_dn": AD_BASE, "group_base_dn": AD_BASE,
        "organisation": "urn:cpd:node-a.example:ad", "membership": "member_of", "nested_groups": "in_chain",
        "user_filter": "(&(objectCategory=person)(objectClass=user))", "disabled_filter": None,
        "groups": tuple(GroupRule(dn, tuple(types)) for dn, types in groups.items()),
        "page_size": 2,  # several pages even for a handful of entries: paging is exercised
    }
    values.update(overrides)
    return SourceConfig(**values)
