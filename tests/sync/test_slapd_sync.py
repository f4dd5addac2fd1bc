"""Issue 10, acceptance 2, against a real slapd: what a sync adds, keeps, deactivates, and refuses."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ldap3 import Connection, Server

from directory import contacts, entries
from directory.errors import Conflict
from directory.models.audit import AuditEvent
from directory.models.sync import SyncRun
from directory.sync import SyncResult, run_source
from directory.sync.plan import DISABLED, LEFT_GROUPS
from tests.sync.conftest import group_tables, start_slapd, stored
from tests.sync.directory_data import LIAISON_TYPES, Tree, corporate_tree
from tests.sync.slapd import LIMITED_DN, LIMITED_PW, ROOT_DN, ROOT_PW, LocalCA, Slapd, ldif

pytestmark = pytest.mark.ldap


def sync(path: Path, *, dry_run: bool = False, force: bool = False, **kwargs: Any) -> SyncResult:
    return run_source("corp", dry_run=dry_run, force=force, path=path, **kwargs)


def ldap_contacts(entry_id: str) -> list[dict[str, Any]]:
    return [c for c in entries.get_document(entry_id)["contacts"] if c["source"] == "ldap:corp"]


def entry_uuids(server: Slapd, base: str) -> dict[str, str]:
    """uid -> entryUUID, read as the root DN (no limits)."""
    conn = Connection(Server("localhost", port=server.port), ROOT_DN, ROOT_PW, auto_bind=True)
    found = conn.extend.standard.paged_search(base, "(uid=*)", attributes=["uid", "entryUUID"],
                                              paged_size=1000, generator=False)
    conn.unbind()
    return {e["attributes"]["uid"][0]: e["attributes"]["entryUUID"] for e in found}


@pytest.fixture
def org(make_org: Callable[..., str]) -> str:
    """A provider whose official domain is the directory's, with one manual contact."""
    return make_org(official_email_domains=["corp.example"], country="GB")


@pytest.fixture
def synced_scratch(scratch: Callable[..., Tree], write_config: Callable[..., Path],
                   org: str) -> Iterator[tuple[Tree, Path]]:
    tree = scratch(10)
    path = write_config(tree, org)
    assert sync(path).outcome == "applied"
    yield tree, path


def modify(server: Slapd, dn: str, change: str, attribute: str, *values: str, control: str = "") -> None:
    body = "".join(f"{attribute}: {v}\n" for v in values)
    server.modify(f"dn: {dn}\nchangetype: modify\n{change}: {attribute}\n{body}",
                  *([control] if control else []))


def test_first_sync_adds_exactly_the_group_members(org: str, corp: Tree, slapd: Slapd,
                                                   write_config: Callable[..., Path]) -> None:
    result = sync(write_config(corp, org))

    assert result.outcome == "applied", result.message
    assert result.exit_code == 0
    ids = entry_uuids(slapd, corp.people)
    expected = corp.designated("cyber-liaison", "emergency-desk", "takedown") - {"h-nomail"}
    by_uid = {uid: c for c in ldap_contacts(org) for uid, i in ids.items() if c["source_id"] == i}
    assert set(by_uid) == expected
    assert len(ldap_contacts(org)) == len(expected) == 64  # 60 generated members + 4 usable hostile ones
    # Request types are the union of the user's groups, in vocabulary order; the flag comes with its group.
    assert by_uid["u00035"]["handles_request_types"] == [
        "preservation", "subscriber_info", "traffic_data", "emergency_disclosure"]
    assert by_uid["u00035"]["emergency"] is True
    assert by_uid["u00010"]["handles_request_types"] == ["preservation", "subscriber_info", "traffic_data"]
    assert by_uid["u00010"]["emergency"] is False
    assert by_uid["u00045"]["handles_request_types"] == ["emergency_disclosure"]
    assert by_uid["u00055"]["handles_request_types"] == ["takedown"]
    assert all(c["authorised_request_types"] == [] for c in by_uid.values())
    assert by_uid["u00010"]["phones"] == ["+442079460010"] and by_uid["u00010"]["languages"] == ["en-GB"]
    assert by_uid["u00010"]["verified_at"] is not None and by_uid["u00010"]["active"] is True
    skipped = {s.dn: s.reason for s in result.plan.skipped} if result.plan else {}
    assert skipped == {corp.users["h-nomail"]: "no usable email address"}
    manual = [c for c in entries.get_document(org)["contacts"] if c["source"] == "manual"]
    assert [c["display_name"] for c in manual] == ["Erika Mustermann"]


def test_requesting_organisations_get_authorised_request_types(
        make_org: Callable[..., str], corp: Tree, write_config: Callable[..., Path]) -> None:
    police = make_org(kind="law_enforcement", official_email_domains=["corp.example"], country="GB",
                      contacts=[])
    assert sync(write_config(corp, police, membership="member_of")).outcome == "applied"

    listed = ldap_contacts(police)
    assert len(listed) == 64
    assert all(c["handles_request_types"] == [] and c["authorised_request_types"] for c in listed)


def test_hostile_values_are_stored_sanitised(org: str, corp: Tree, slapd: Slapd,
                                             write_config: Callable[..., Path]) -> None:
    result = sync(write_config(corp, org))
    assert result.outcome == "applied"

    ids = entry_uuids(slapd, corp.people)
    by_uid = {uid: c for c in ldap_contacts(org) for uid, i in ids.items() if c["source_id"] == i}
    for contact in by_uid.values():
        for value in (contact["display_name"], contact["title"] or "", contact["email"]):
            assert len(value) <= 200
            assert "<" not in value and ">" not in value
            assert not any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in value)
    # Filter metacharacters are data, not syntax: the user is listed once with the literal name and the
    # search matched exactly the group members (asserted in the first test).
    assert by_uid["h-filter"]["display_name"] == "*)(uid=*))(|(uid=*"
    assert by_uid["h-control"]["display_name"] == "Evil [31m eman Name"
    assert by_uid["h-control"]["title"] == "Head of Desk"
    assert by_uid["h-huge"]["display_name"] == "A" * 200
    assert by_uid["h-huge"]["title"] == "scriptalert(1)/script"
    assert by_uid["h-huge"]["phones"] == ["+442079460999"]
    assert by_uid["h-huge"]["email"] == "h-huge@corp.example"
    assert by_uid["h-private"]["email"] == "h-private@corp.example"
    assert result.plan is not None
    huge = next(a for a in result.plan.additions if a.source_id == ids["h-huge"])
    assert "name shortened to 200 characters" in huge.notes
    assert "dropped invalid phone number 'not-a-number'" in huge.notes
    assert any(n.startswith("ignored invalid email") for n in huge.notes)


def test_the_same_sync_twice_changes_nothing(org: str, corp: Tree, write_config: Callable[..., Path]) -> None:
    path = write_config(corp, org)
    first = sync(path)
    before = stored(org)

    again = sync(path)
    dry = sync(path, dry_run=True)

    assert (first.outcome, again.outcome, dry.outcome) == ("applied", "nothing_to_do", "dry_run")
    assert again.plan is not None and not again.plan.changed
    assert dry.plan is not None and not dry.plan.changed
    assert stored(org) == before


def test_membership_by_member_of_finds_the_same_contacts(org: str, corp: Tree,
                                                         write_config: Callable[..., Path]) -> None:
    by_member = sync(write_config(corp, org))
    by_member_of = sync(write_config(corp, org, membership="member_of"))

    assert by_member.outcome == "applied"
    assert by_member_of.outcome == "nothing_to_do", by_member_of.plan


@pytest.mark.parametrize("membership", ["member", "member_of"])
def test_a_rename_and_move_keeps_the_contact(membership: str, scratch: Callable[..., Tree], org: str,
                                             slapd: Slapd, write_config: Callable[..., Path]) -> None:
    tree = scratch(6)
    path = write_config(tree, org, membership=membership)
    assert sync(path).outcome == "applied"
    before = {c["source_id"]: c for c in ldap_contacts(org)}
    old_dn = tree.users["u00001"]
    target = f"ou=team-0,ou=region-1,{tree.people}"
    slapd.modify(f"dn: {old_dn}\nchangetype: modrdn\nnewrdn: uid=renamed\ndeleteoldrdn: 1\n"
                 f"newsuperior: {target}\n")
    modify(slapd, f"uid=renamed,{target}", "replace", "displayName", "Renamed Person")

    result = sync(path)

    assert result.outcome == "applied", result.message
    assert result.plan is not None
    assert (len(result.plan.additions), len(result.plan.deactivations), len(result.plan.updates)) == (0, 0, 1)
    after = {c["source_id"]: c for c in ldap_contacts(org)}
    assert set(after) == set(before)
    renamed = next(c for c in after.values() if c["display_name"] == "Renamed Person")
    assert renamed["contact_id"] == before[renamed["source_id"]]["contact_id"]
    assert result.plan.updates[0].changes["display_name"] == ("Given1 Surname1", "Renamed Person")


def test_removal_from_group_and_disabling_deactivate_and_come_back(
        synced_scratch: tuple[Tree, Path], org: str, slapd: Slapd) -> None:
    tree, path = synced_scratch
    group = tree.group("cyber-liaison")
    modify(slapd, group, "delete", "member", tree.users["u00002"])
    # ppolicy's lock marker is operational: the root DN sets it with the Relax control.
    modify(slapd, tree.users["u00004"], "add", "pwdAccountLockedTime", "000001010000Z", control="relax")

    result = sync(path)

    assert result.outcome == "applied", result.message
    assert result.plan is not None
    reasons = sorted(d.reason for d in result.plan.deactivations)
    assert reasons == sorted([LEFT_GROUPS, DISABLED])
    listed = ldap_contacts(org)
    assert len(listed) == 10  # deactivated contacts stay, for history and reactivation
    inactive = {c["contact_id"] for c in listed if not c["active"]}
    assert len(inactive) == 2

    modify(slapd, group, "add", "member", tree.users["u00002"])
    modify(slapd, tree.users["u00004"], "delete", "pwdAccountLockedTime", control="relax")
    back = sync(path)

    assert back.outcome == "applied"
    assert all(c["active"] for c in ldap_contacts(org))
    assert {c["contact_id"] for c in ldap_contacts(org)} >= inactive  # the same ids, reactivated


def test_a_mass_removal_trips_the_guard_until_forced(synced_scratch: tuple[Tree, Path], org: str,
                                                     slapd: Slapd) -> None:
    tree, path = synced_scratch
    for uid in ("u00000", "u00001", "u00002", "u00003", "u00005"):
        modify(slapd, tree.group("cyber-liaison"), "delete", "member", tree.users[uid])
    before = stored(org)

    tripped = sync(path)

    assert (tripped.outcome, tripped.exit_code) == ("guard_tripped", 3)
    assert "deactivates 5 of 10" in tripped.message
    assert stored(org) == before
    forced = sync(path, force=True)
    assert (forced.outcome, forced.forced) == ("applied", True)
    assert sum(1 for c in ldap_contacts(org) if not c["active"]) == 5
    assert SyncRun.get_by_id(forced.run_id).forced is True


def assert_refused(result: SyncResult, outcome: str, code: int, before: dict[str, Any], org: str) -> None:
    assert (result.outcome, result.exit_code) == (outcome, code), result.message
    assert stored(org) == before


def test_an_account_limited_to_500_results_changes_nothing(
        org: str, corp: Tree, write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    assert sync(write_config(corp, org)).outcome == "applied"
    before = stored(org)
    monkeypatch.setenv("LIMITED_PASSWORD", LIMITED_PW)

    result = sync(write_config(corp, org, bind_dn=LIMITED_DN, password_env="LIMITED_PASSWORD"))

    assert_refused(result, "incomplete", 1, before, org)
    assert "sizeLimitExceeded" in result.message


def test_a_wrong_password_changes_nothing(org: str, corp: Tree, write_config: Callable[..., Path],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    assert sync(write_config(corp, org)).outcome == "applied"
    before = stored(org)
    monkeypatch.setenv("WRONG_PASSWORD", "not-the-password")

    result = sync(write_config(corp, org, password_env="WRONG_PASSWORD"))

    assert_refused(result, "ldap_error", 1, before, org)
    assert "invalidCredentials" in result.message
    assert "not-the-password" not in result.message


@pytest.mark.parametrize("transport", ["ldaps", "starttls"])
def test_an_untrusted_certificate_changes_nothing(transport: str, org: str, corp: Tree, slapd: Slapd,
                                                  other_ca: LocalCA,
                                                  write_config: Callable[..., Path]) -> None:
    assert sync(write_config(corp, org)).outcome == "applied"
    before = stored(org)
    url = slapd.ldaps_url if transport == "ldaps" else slapd.url

    result = sync(write_config(corp, org, url=url, start_tls=transport == "starttls",
                               ca_file=str(other_ca.ca_file)))

    assert_refused(result, "ldap_error", 1, before, org)
    assert "CERTIFICATE_VERIFY_FAILED" in result.message


def test_ldaps_with_the_right_ca_works(org: str, corp: Tree, slapd: Slapd,
                                       write_config: Callable[..., Path]) -> None:
    result = sync(write_config(corp, org, url=slapd.ldaps_url, start_tls=False))
    assert result.outcome == "applied"


def test_an_empty_result_changes_nothing(org: str, corp: Tree, scratch: Callable[..., Tree],
                                         write_config: Callable[..., Path]) -> None:
    assert sync(write_config(corp, org)).outcome == "applied"
    before = stored(org)
    # Same groups, but a base DN where none of their members live: a complete, successful, empty answer.
    elsewhere = scratch(1, groups={"unrelated": range(1)})

    result = sync(write_config(corp, org, base_dn=elsewhere.people))

    assert_refused(result, "guard_tripped", 3, before, org)
    assert "no members of the configured groups" in result.message


def test_a_roster_larger_than_an_entry_is_a_configuration_error(org: str, corp: Tree,
                                                                write_config: Callable[..., Path]) -> None:
    assert sync(write_config(corp, org)).outcome == "applied"
    before = stored(org)
    # 200 more members: the roster no longer fits one signed entry (64 KiB, keys/canonical.py).
    groups = [*group_tables(corp), {"dn": corp.group("other-staff"), "request_types": LIAISON_TYPES}]
    path = write_config(corp, org, groups=groups)

    planned = sync(path, dry_run=True)
    result = sync(path)

    assert_refused(result, "config_error", 2, before, org)
    assert (planned.outcome, planned.exit_code) == ("config_error", 2)
    for message in (planned.message, result.message):
        assert "would hold 265 contacts" in message
        assert "over the 65536-byte limit of an entry" in message
        assert "narrow the groups" in message
    assert result.plan is not None and len(result.plan.additions) == 200


def test_a_group_that_vanished_changes_nothing(org: str, corp: Tree,
                                               write_config: Callable[..., Path]) -> None:
    assert sync(write_config(corp, org)).outcome == "applied"
    before = stored(org)
    groups = [{"dn": f"cn=no-such-group,{corp.groups}", "request_types": LIAISON_TYPES}]

    result = sync(write_config(corp, org, groups=groups))

    assert_refused(result, "ldap_error", 1, before, org)
    assert "does not exist" in result.message


def test_plain_ldap_with_a_password_needs_allow_insecure(org: str, corp: Tree,
                                                         write_config: Callable[..., Path]) -> None:
    refused = sync(write_config(corp, org, start_tls=False, ca_file=None))
    allowed = sync(write_config(corp, org, start_tls=False, ca_file=None, allow_insecure=True))

    assert (refused.outcome, refused.exit_code) == ("config_error", 2)
    assert "allow_insecure" in refused.message
    assert allowed.outcome == "applied"


@pytest.mark.slow
def test_slapd_dying_mid_sync_changes_nothing(tmp_path: Path, test_ca: LocalCA, org: str,
                                              write_config: Callable[..., Path]) -> None:
    server = start_slapd(tmp_path / "dying", test_ca)
    try:
        tree = corporate_tree("dying", 600, groups={"cyber-liaison": range(0, 60)})
        server.add(ldif(tree.entries))
        path = write_config(tree, org, url=server.url, page_size=100)
        assert sync(path).outcome == "applied"
        before = stored(org)
        pages: list[int] = []

        def kill_after_first_page(count: int) -> None:
            pages.append(count)
            if len(pages) == 1:
                server.kill()

        result = sync(path, progress=kill_after_first_page)
    finally:
        server.stop()

    assert pages == [100]
    assert_refused(result, "ldap_error", 1, before, org)


def test_runs_are_recorded_and_audited_without_personal_data(org: str, corp: Tree,
                                                             write_config: Callable[..., Path]) -> None:
    path = write_config(corp, org)
    applied = sync(path)
    again = sync(path)

    runs = list(SyncRun.select().where(SyncRun.source == "corp").order_by(SyncRun.id))
    assert [r.outcome for r in runs[-2:]] == ["applied", "nothing_to_do"]
    assert runs[-2].version == applied.version and json.loads(runs[-2].counts)["added"] == 64
    events = list(AuditEvent.select().where(AuditEvent.action == "sync.ldap").order_by(AuditEvent.seq))
    assert [e.outcome for e in events[-2:]] == ["applied", "nothing_to_do"]
    for event in events:
        assert "@" not in event.details and "Surname" not in event.details
    assert again.run_id == runs[-1].id


def test_a_manual_edit_of_a_synced_field_is_refused(org: str, corp: Tree,
                                                    write_config: Callable[..., Path]) -> None:
    assert sync(write_config(corp, org)).outcome == "applied"
    synced = ldap_contacts(org)[0]

    with pytest.raises(Conflict) as refused:
        contacts.change(org, synced["contact_id"], {"display_name": "Edited By Hand"},
                        entries.Actor.system("admin-test"), None)

    assert "LDAP source 'corp'" in refused.value.message


def test_a_referral_in_the_tree_changes_nothing(org: str, scratch: Callable[..., Tree], slapd: Slapd,
                                                write_config: Callable[..., Path]) -> None:
    tree = scratch(3)
    path = write_config(tree, org)
    assert sync(path).outcome == "applied"
    before = stored(org)
    # Part of the tree now lives on another server: referrals are not followed (the password would go
    # with them), so the answer is incomplete.
    slapd.add(ldif([(f"ou=branch,{tree.people}", {
        "objectClass": ["referral", "extensibleObject"], "ou": "branch",
        "ref": f"ldap://branch.corp.example/ou=branch,{tree.people}"})]))

    result = sync(path)

    assert_refused(result, "incomplete", 1, before, org)
    assert "referral" in result.message
