"""The `DirectorySource` contract, passed by the real thing (LdapSource on slapd), the AD stand-in
(LdapSource on ldap3's MOCK_SYNC) and the in-memory fake the planner tests use.

One logical roster in each: alice (liaison), bob (liaison + emergency), carol (desk, nested in
emergency), dave (liaison, disabled), erin (no configured group).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from directory.sync.config import GroupRule, SourceConfig
from directory.sync.source import DirectorySource, DirectoryUnavailable, LdapSource
from tests.sync.conftest import PASSWORD_ENV
from tests.sync.directory_data import person
from tests.sync.fakes import AD_PASSWORD, DISABLED_ACCOUNT, AdDirectory, FakeSource, ad_config, fake_user
from tests.sync.slapd import SUFFIX, SYNC_DN, Slapd, ldif

EXPECTED = {"alice": ({"liaison"}, False), "bob": ({"liaison", "emergency"}, False),
            "carol": ({"emergency"}, False), "dave": ({"liaison"}, True)}


@dataclass
class Roster:
    source: DirectorySource
    broken: DirectorySource  # the same source unable to read (wrong password / server error)
    groups: dict[str, str]  # group DN -> logical name


def slapd_roster(slapd: Slapd, ca_file: str, name: str) -> Roster:
    base = f"ou={name},{SUFFIX}"
    people, groups = f"ou=people,{base}", f"ou=groups,{base}"
    dn = {u: f"uid={u},{people}" for u in ("alice", "bob", "carol", "dave", "erin")}
    group = {g: f"cn={g},{groups}" for g in ("liaison", "desk", "emergency")}
    entries = [(base, {"objectClass": "organizationalUnit", "ou": name}),
               (people, {"objectClass": "organizationalUnit", "ou": "people"}),
               (groups, {"objectClass": "organizationalUnit", "ou": "groups"})]
    entries += [(dn[u], person(u, i)) for i, u in enumerate(dn)]
    liaison = [dn["alice"], dn["bob"], dn["dave"]]
    entries += [(group["liaison"], {"objectClass": "groupOfNames", "member": liaison}),
                (group["desk"], {"objectClass": "groupOfNames", "member": [dn["carol"]]}),
                (group["emergency"], {"objectClass": "groupOfNames", "member": [dn["bob"], group["desk"]]})]
    slapd.add(ldif(entries))
    slapd.modify(f"dn: {dn['dave']}\nchangetype: modify\nadd: pwdAccountLockedTime\n"
                 "pwdAccountLockedTime: 000001010000Z\n", "relax")

    def config(password_env: str) -> SourceConfig:
        return SourceConfig(
            name="contract", url=slapd.url, start_tls=True, ca_file=ca_file, bind_dn=SYNC_DN,
            password_env=password_env, base_dn=people, group_base_dn=base, organisation="urn:x",
            membership="member_of", nested_groups="walk", disabled_filter="(pwdAccountLockedTime=*)",
            groups=(GroupRule(group["liaison"], ("preservation",)),
                    GroupRule(group["emergency"], ("emergency_disclosure",), emergency=True)), page_size=2)

    return Roster(LdapSource(config(PASSWORD_ENV)), LdapSource(config("DIRECTORY_TEST_NO_SUCH_PASSWORD")),
                  {group["liaison"]: "liaison", group["emergency"]: "emergency"})


def mock_roster() -> Roster:
    ad = AdDirectory()
    users = {u: ad.user(u) for u in ("alice", "bob", "carol", "erin")}
    users["dave"] = ad.user("dave", flags=DISABLED_ACCOUNT)
    liaison = ad.group("Liaison", [users["alice"], users["bob"], users["dave"]])
    desk = ad.group("Desk", [users["carol"]])
    emergency = ad.group("Emergency", [users["bob"], desk])
    config = ad_config({liaison: ["preservation"], emergency: ["emergency_disclosure"]})
    broken = AdDirectory()  # a directory that lost the service account: the bind fails
    broken.entries = {dn: a for dn, a in ad.entries.items() if "svc-directory" not in dn}
    return Roster(LdapSource(config, connector=ad.connector()), LdapSource(config, broken.connector()),
                  {liaison: "liaison", emergency: "emergency"})


def fake_roster() -> Roster:
    liaison, emergency = "cn=liaison,ou=groups", "cn=emergency,ou=groups"
    users = [fake_user("alice", liaison), fake_user("bob", liaison, emergency),
             fake_user("carol", emergency), fake_user("dave", liaison, disabled=True)]
    return Roster(FakeSource(users), FakeSource(error=DirectoryUnavailable("bind failed")),
                  {liaison: "liaison", emergency: "emergency"})


@pytest.fixture(params=["slapd", "mock", "fake"])
def roster(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Roster]:
    monkeypatch.setenv("DIRECTORY_TEST_AD_PASSWORD", AD_PASSWORD)
    monkeypatch.setenv("DIRECTORY_TEST_NO_SUCH_PASSWORD", "wrong")
    if request.param == "slapd":
        request.applymarker(pytest.mark.ldap)
        slapd: Slapd = request.getfixturevalue("slapd")
        request.getfixturevalue("ldap_password")
        ca = request.getfixturevalue("test_ca")
        yield slapd_roster(slapd, str(ca.ca_file), f"contract-{uuid.uuid4().hex[:8]}")
    else:
        yield mock_roster() if request.param == "mock" else fake_roster()


def name_of(user: object) -> str:
    mail: str = user.values("mail")[0]  # type: ignore[attr-defined]
    return mail.split("@")[0]


def test_designated_users_come_with_their_groups_nested_or_not(roster: Roster) -> None:
    snapshot = roster.source.fetch()

    got = {name_of(u): ({roster.groups[g] for g in u.groups}, u.disabled) for u in snapshot.users}
    assert got == EXPECTED


def test_stable_ids_are_uuids_that_do_not_change_between_reads(roster: Roster) -> None:
    first = {name_of(u): u.stable_id for u in roster.source.fetch().users}
    second = {name_of(u): u.stable_id for u in roster.source.fetch().users}

    assert first == second
    assert len(set(first.values())) == len(first)
    assert all(str(uuid.UUID(i)) == i for i in first.values())


def test_attributes_are_decoded_text_under_lower_case_names(roster: Roster) -> None:
    alice = next(u for u in roster.source.fetch().users if name_of(u) == "alice")

    assert all(k == k.lower() for k in alice.attributes)
    assert all(isinstance(v, str) for vs in alice.attributes.values() for v in vs)
    assert alice.values("MAIL") == alice.values("mail")


def test_progress_counts_entries_read(roster: Roster) -> None:
    seen: list[int] = []

    snapshot = roster.source.fetch(seen.append)

    assert seen and seen == sorted(seen)
    assert seen[-1] == snapshot.entries_read >= len(EXPECTED)


def test_a_source_that_cannot_read_raises_instead_of_answering(roster: Roster) -> None:
    with pytest.raises(DirectoryUnavailable):
        roster.broken.fetch()
