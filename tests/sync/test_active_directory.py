"""Issue 10, acceptance 3: Active Directory behaviour (objectGUID, the userAccountControl disabled bit,
nested groups) through ldap3's MOCK_SYNC strategy behind the same `LdapSource` the slapd tests use.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from ldap3 import BASE

from directory.sync.plan import DISABLED, LEFT_GROUPS, make_plan
from directory.sync.source import LdapSource
from tests.sync.fakes import AD_BASE, AD_PASSWORD, DISABLED_ACCOUNT, AdDirectory, ad_config

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
Domain = tuple[AdDirectory, dict[str, str]]


@pytest.fixture(autouse=True)
def ad_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIRECTORY_TEST_AD_PASSWORD", AD_PASSWORD)


def document(contacts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"version": 3, "kind": "service_provider", "country": "GB",
            "official_email_domains": ["ad.example"], "contacts": contacts or []}


@pytest.fixture
def domain() -> Domain:
    """Liaison <- Desk <- Night shift (two levels of nesting), plus a cycle Night shift <-> Liaison."""
    ad = AdDirectory()
    users = {cn: ad.user(cn) for cn in ("anna.berg", "bo.chen", "cem.demir", "dora.eck", "emil.frey")}
    ad.user("fred.gast", flags=DISABLED_ACCOUNT)
    users["fred.gast"] = f"CN=fred.gast,OU=Staff,{AD_BASE}"
    liaison = ad.group("Liaison", [users["anna.berg"], users["fred.gast"]])
    desk = ad.group("Desk", [users["bo.chen"]])
    night = ad.group("Night shift", [users["cem.demir"]])
    ad.add_member(liaison, desk)
    ad.add_member(desk, night)
    ad.add_member(night, liaison)  # a cycle must not loop
    emergency = ad.group("Emergency", [users["dora.eck"], users["cem.demir"]])
    ad.group("Canteen", [users["emil.frey"]])
    return ad, {"liaison": liaison, "emergency": emergency, **users}


def source(ad: AdDirectory, groups: dict[str, list[str]], **overrides: Any) -> LdapSource:
    return LdapSource(ad_config(groups, **overrides), connector=ad.connector())


def test_object_guid_is_the_stable_id_and_nested_members_count(domain: Domain) -> None:
    ad, dns = domain
    groups = {dns["liaison"]: ["preservation"], dns["emergency"]: ["emergency_disclosure"]}
    snapshot = source(ad, groups).fetch()

    by_cn = {u.dn.split(",")[0][3:]: u for u in snapshot.users}
    assert set(by_cn) == {"anna.berg", "bo.chen", "cem.demir", "dora.eck", "fred.gast"}
    assert by_cn["anna.berg"].stable_id == str(ad.guids["anna.berg"])
    assert by_cn["bo.chen"].groups == {dns["liaison"]}  # via Desk
    assert by_cn["cem.demir"].groups == {dns["liaison"], dns["emergency"]}  # via Night shift, and directly
    # The mock answers the in-chain rule with "success, nothing" (as OpenLDAP would): the source noticed
    # that even the direct child groups were missing, resolved nesting itself and says so.
    assert any("in-chain" in note for note in snapshot.notes)


def test_the_disabled_bit_of_user_account_control_deactivates(domain: Domain) -> None:
    ad, dns = domain
    ad_source = source(ad, {dns["liaison"]: ["preservation"]})
    config = ad_source.config
    first = make_plan(document(), config, ad_source.fetch(), NOW)
    assert {a.contact["display_name"] for a in first.additions} == {"Anna Berg", "Bo Chen", "Cem Demir"}
    assert [s.reason for s in first.skipped] == [DISABLED]

    ad.entries[dns["anna.berg"]]["userAccountControl"] = str(DISABLED_ACCOUNT)
    ad.entries[dns["bo.chen"]]["userAccountControl"] = "not-a-number"  # unreadable flags: not listed
    second = make_plan(document(first.contacts), config, ad_source.fetch(), NOW)

    assert sorted(d.display_name for d in second.deactivations) == ["Anna Berg", "Bo Chen"]
    assert {d.reason for d in second.deactivations} == {DISABLED}


def test_a_renamed_and_moved_account_keeps_its_contact(domain: Domain) -> None:
    ad, dns = domain
    ad_source = source(ad, {dns["liaison"]: ["preservation"]})
    first = make_plan(document(), ad_source.config, ad_source.fetch(), NOW)
    ad.move(dns["anna.berg"], f"CN=anna.berg-lund,OU=Moved,{AD_BASE}")
    ad.entries[f"CN=anna.berg-lund,OU=Moved,{AD_BASE}"]["displayName"] = "Anna Berg-Lund"

    second = make_plan(document(first.contacts), ad_source.config, ad_source.fetch(), NOW)

    assert (second.additions, second.deactivations) == ((), ())
    assert [(u.display_name, u.source_id) for u in second.updates] == [
        ("Anna Berg-Lund", str(ad.guids["anna.berg"]))]


def test_leaving_every_group_deactivates(domain: Domain) -> None:
    ad, dns = domain
    ad_source = source(ad, {dns["emergency"]: ["emergency_disclosure"]})
    first = make_plan(document(), ad_source.config, ad_source.fetch(), NOW)
    ad.entries[dns["emergency"]]["member"].remove(dns["dora.eck"])
    ad.entries[dns["dora.eck"]]["memberOf"].remove(dns["emergency"])

    second = make_plan(document(first.contacts), ad_source.config, ad_source.fetch(), NOW)

    assert [(d.display_name, d.reason) for d in second.deactivations] == [("Dora Eck", LEFT_GROUPS)]


def test_filter_metacharacters_in_group_names_are_escaped() -> None:
    ad = AdDirectory()
    member = ad.user("gil.hahn")
    decoy = ad.user("ida.jung")
    odd = ad.group("Liaison (EU)*", [member])
    ad.group("Liaison (EU)x", [decoy])  # would match if `*` reached the server unescaped

    snapshot = source(ad, {odd: ["preservation"]}, nested_groups="none").fetch()

    assert [u.dn for u in snapshot.users] == [member]


class InChainServer:
    """Stands in for a domain controller that evaluates the in-chain rule: records every search.

    Answers as ldap3's SYNC strategy (the one the sync uses) does: on the connection.
    """

    def __init__(self, group: str, nested: str, user: dict[str, Any]) -> None:
        self.group, self.nested, self.user = group, nested, user
        self.filters: list[str] = []
        self.result: dict[str, Any] | None = None
        self.response: list[dict[str, Any]] = []

    def search(self, base: str, search_filter: str, scope: str, **kwargs: Any) -> bool:
        self.filters.append(search_filter)
        nested = {"type": "searchResEntry", "dn": self.nested, "raw_attributes": {}}
        if scope == BASE:
            found = [{"type": "searchResEntry", "dn": base, "raw_attributes": {}}]
        elif search_filter.startswith("(&(objectClass=group)"):
            # The in-chain search, and the check of the direct children (Desk is one).
            found = [nested] if r"Liaison \28EU\29" in search_filter else []
        else:
            found = [self.user]
        self.result = {"result": 0, "description": "success", "controls": {}}
        self.response = found
        return True

    def unbind(self) -> None:
        pass


def test_a_server_that_knows_the_in_chain_rule_resolves_nesting_in_one_search() -> None:
    group = f"CN=Liaison (EU),OU=Groups,{AD_BASE}"
    nested = f"CN=Desk,OU=Groups,{AD_BASE}"
    guid = uuid.uuid4()
    user = {"type": "searchResEntry", "dn": f"CN=kai,{AD_BASE}", "raw_attributes": {
        "objectGUID": [guid.bytes_le], "memberOf": [nested.upper().encode()], "mail": [b"kai@ad.example"],
        "userAccountControl": [b"512"]}}
    server = InChainServer(group, nested, user)
    connector: Callable[..., Any] = lambda config: server  # noqa: E731

    snapshot = LdapSource(ad_config({group: ["preservation"]}), connector=connector).fetch()

    assert [(u.stable_id, u.groups) for u in snapshot.users] == [(str(guid), {group})]
    assert snapshot.notes == ()
    in_chain = [f for f in server.filters if "1.2.840.113556.1.4.1941" in f]
    assert in_chain == [r"(&(objectClass=group)(memberOf:1.2.840.113556.1.4.1941:="
                        r"CN=Liaison \28EU\29,OU=Groups,DC=ad,DC=example))"]
    assert server.filters[-1] == (r"(&(&(objectCategory=person)(objectClass=user))(|"
                                  r"(memberOf=CN=Desk,OU=Groups,DC=ad,DC=example)"
                                  r"(memberOf=CN=Liaison \28EU\29,OU=Groups,DC=ad,DC=example)))")
