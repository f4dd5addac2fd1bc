"""The planner and the guards on plain documents, and value sanitising: no LDAP server, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from directory.sync.config import GroupRule, SourceConfig
from directory.sync.contacts import Mapped, Unusable, clean_text, map_user
from directory.sync.guards import tripped
from directory.sync.plan import DISABLED, LEFT_GROUPS, Plan, make_plan
from directory.sync.source import Snapshot
from tests.sync.fakes import fake_user

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LIAISON = "cn=liaison,ou=groups,dc=corp,dc=example"
DESK = "cn=desk,ou=groups,dc=corp,dc=example"


def config(**overrides: Any) -> SourceConfig:
    values: dict[str, Any] = {
        "name": "corp", "url": "ldaps://ldap.corp.example", "base_dn": "dc=corp,dc=example",
        "organisation": "urn:x", "groups": (GroupRule(LIAISON, ("traffic_data", "preservation")),
                                            GroupRule(DESK, ("emergency_disclosure",), emergency=True))}
    values.update(overrides)
    return SourceConfig(**values)


def document(contacts: list[dict[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
    return {"version": 7, "kind": "service_provider", "country": "GB",
            "official_email_domains": ["corp.example"], "contacts": contacts or [], **fields}


def plan_for(users: list[Any], doc: dict[str, Any] | None = None, at: datetime = NOW, **conf: Any) -> Plan:
    return make_plan(doc or document(), config(**conf), Snapshot(tuple(users), len(users)), at)


MANUAL = {"contact_id": "11111111-1111-4111-8111-111111111111", "kind": "role", "display_name": "Abuse desk",
          "email": "abuse@corp.example", "source": "manual", "source_id": None, "active": True}
OTHER_SOURCE = {**MANUAL, "contact_id": "22222222-2222-4222-8222-222222222222", "source": "ldap:hr",
                "source_id": "x"}


class TestSanitising:
    @pytest.mark.parametrize(("raw", "clean"), [
        ("  Jane \t Doe\n", "Jane Doe"),
        ("Evil\x1b[31m\u202eeman\x07", "Evil [31m eman"),
        ("<script>alert(1)</script>", "scriptalert(1)/script"),
        ("Zoe\u0301", "Zoé"),  # NFC
        ("\u0645\u06cc\u200c\u0631\u0648\u06cc", "\u0645\u06cc\u200c\u0631\u0648\u06cc"),  # ZWNJ is spelling
        ("a\u200bb\ufeff", "ab"),
    ])
    def test_text(self, raw: str, clean: str) -> None:
        assert clean_text(raw, 200) == (clean, False)

    def test_long_text_is_capped(self) -> None:
        assert clean_text("B" * 10_000, 200) == ("B" * 200, True)

    def test_values_are_validated_and_normalised(self) -> None:
        user = fake_user("jane", LIAISON, telephoneNumber=["020 7946 0123", "+1 (0) nonsense", "9" * 500],
                         preferredLanguage="en-gb, fr;q=0.8, xx-invalid-tag-!!", title="Liaison\x00Officer")

        mapped = map_user(user, config(), document())

        assert isinstance(mapped, Mapped)
        assert mapped.fields["phones"] == ["+442079460123"]  # national form read with the org's country
        assert mapped.fields["languages"] == ["en-GB", "fr"]
        assert mapped.fields["title"] == "Liaison Officer"
        assert len([n for n in mapped.notes if n.startswith("dropped invalid phone")]) == 2
        assert any(n.startswith("dropped invalid language") for n in mapped.notes)

    @pytest.mark.parametrize(("mails", "chosen", "note"), [
        (["jane@freemail.example", "Jane.Doe@Corp.Example"], "Jane.Doe@corp.example", None),
        (["jane@eu.corp.example"], "jane@eu.corp.example", None),  # subdomains are official too
        (["jane@freemail.example"], "jane@freemail.example", "no email address in the organisation's"),
        (["not an address", "jane@corp.example"], "jane@corp.example", "ignored invalid email"),
    ])
    def test_an_official_address_is_preferred(self, mails: list[str], chosen: str, note: str | None) -> None:
        mapped = map_user(fake_user("jane", LIAISON, mail=mails), config(), document())

        assert isinstance(mapped, Mapped) and mapped.fields["email"] == chosen
        assert note is None or any(n.startswith(note) for n in mapped.notes)

    def test_no_usable_address_means_unusable(self) -> None:
        assert map_user(fake_user("jane", LIAISON, mail=[]), config(), document()) == Unusable(
            "no usable email address")
        assert isinstance(map_user(fake_user("jane", LIAISON, mail="<x>"), config(), document()), Unusable)

    def test_request_types_follow_the_organisation_kind(self) -> None:
        user = fake_user("jane", LIAISON, DESK)
        provider = map_user(user, config(), document())
        police = map_user(user, config(), document(kind="law_enforcement"))

        assert isinstance(provider, Mapped) and isinstance(police, Mapped)
        assert provider.fields["handles_request_types"] == [
            "preservation", "traffic_data", "emergency_disclosure"]
        assert provider.fields["authorised_request_types"] == []
        assert police.fields["authorised_request_types"] == provider.fields["handles_request_types"]
        assert police.fields["emergency"] is True


class TestPlan:
    def test_additions_are_complete_contacts_after_the_existing_ones(self) -> None:
        users = [fake_user("zoe", LIAISON), fake_user("adam", DESK)]
        plan = plan_for(users, document([MANUAL, OTHER_SOURCE]))

        assert [a.contact["display_name"] for a in plan.additions] == ["Adam Example", "Zoe Example"]
        assert plan.contacts[:2] == [MANUAL, OTHER_SOURCE]
        added = plan.contacts[2]
        assert added["source"] == "ldap:corp" and added["source_id"] == fake_user("adam").stable_id
        assert added["verified_at"] == int(NOW.timestamp()) and added["active"] is True
        assert (added["working_hours"], added["key_fingerprints"], added["trained_on"]) == (None, [], None)
        assert plan.base_version == 7 and plan.changed

    def test_an_unchanged_directory_plans_nothing(self) -> None:
        first = plan_for([fake_user("jane", LIAISON)])
        again = plan_for([fake_user("jane", LIAISON)], document(first.contacts), NOW + timedelta(days=3))

        assert not again.changed and again.contacts == first.contacts

    def test_verification_is_renewed_only_when_it_gets_old(self) -> None:
        first = plan_for([fake_user("jane", LIAISON)])
        later = NOW + timedelta(days=31)

        renewed = plan_for([fake_user("jane", LIAISON)], document(first.contacts), later, reverify_days=30)

        assert [list(u.changes) for u in renewed.updates] == [["verified_at"]]
        assert renewed.contacts[0]["verified_at"] == int(later.timestamp())

    def test_updates_change_only_ldap_owned_fields_in_place(self) -> None:
        first = plan_for([fake_user("jane", LIAISON)])
        contact = {**first.contacts[0], "working_hours": {"weekly": {}}, "trained_on": "2025-01-01"}

        renamed = fake_user("jane", LIAISON, DESK, displayName="Jane Roe")
        plan = plan_for([renamed], document([MANUAL, contact]))

        assert [sorted(u.changes) for u in plan.updates] == [
            ["display_name", "emergency", "handles_request_types", "verified_at"]]
        updated = plan.contacts[1]
        assert updated["contact_id"] == contact["contact_id"]
        assert (updated["working_hours"], updated["trained_on"]) == ({"weekly": {}}, "2025-01-01")
        assert plan.contacts[0] == MANUAL

    def test_leaving_disabled_and_unusable_users_are_deactivated_with_reasons(self) -> None:
        users = [fake_user(n, LIAISON) for n in ("ann", "bob", "cem", "dan")]
        first = plan_for(users)
        now = [fake_user("bob", LIAISON, disabled=True), fake_user("cem", LIAISON, mail=[]),
               fake_user("dan", LIAISON)]

        plan = plan_for(now, document(first.contacts), max_deactivation_ratio=1.0)

        assert {(d.display_name, d.reason) for d in plan.deactivations} == {
            ("Ann Example", LEFT_GROUPS), ("Bob Example", DISABLED),
            ("Cem Example", "no usable email address")}
        assert [c["active"] for c in plan.contacts] == [False, False, False, True]
        assert plan.active_before == 4

    def test_a_returning_user_is_reactivated_under_the_same_id(self) -> None:
        first = plan_for([fake_user("ann", LIAISON)])
        gone = plan_for([], document(first.contacts))
        back = plan_for([fake_user("ann", LIAISON)], document(gone.contacts))

        assert [c["active"] for c in gone.contacts] == [False]
        assert [u.changes["active"] for u in back.updates] == [(False, True)]
        assert back.contacts[0]["contact_id"] == first.contacts[0]["contact_id"]

    def test_new_users_who_cannot_be_listed_are_skipped_with_reasons(self) -> None:
        plan = plan_for([fake_user("ann", LIAISON, disabled=True), fake_user("bob", LIAISON, mail="bad")])

        assert [s.reason for s in plan.skipped] == [DISABLED, "no usable email address (ignored invalid "
                                                              "email 'bad')"]
        assert not plan.changed

    def test_other_sources_contacts_are_never_touched(self) -> None:
        plan = plan_for([], document([MANUAL, OTHER_SOURCE]))

        assert plan.contacts == [MANUAL, OTHER_SOURCE] and not plan.deactivations

    def test_a_manual_contact_with_the_same_email_is_pointed_out(self) -> None:
        plan = plan_for([fake_user("abuse", LIAISON)], document([MANUAL]))

        assert any("already listed" in n for n in plan.additions[0].notes)


class TestGuards:
    def active(self, count: int) -> dict[str, Any]:
        return document(plan_for([fake_user(f"u{i}", LIAISON) for i in range(count)]).contacts)

    def test_zero_designated_users_always_trips(self) -> None:
        assert "no members of the configured groups" in (tripped(plan_for([]), config()) or "")
        assert tripped(plan_for([], self.active(3)), config(max_deactivation_ratio=1.0)) is not None

    @pytest.mark.parametrize(("active", "remaining", "ratio", "trips"), [
        (10, 8, 0.2, False), (10, 7, 0.2, True), (10, 5, 0.5, False),
        (2, 1, 0.2, False),  # one departure is never a mass removal
        (5, 3, 0.2, True), (5, 3, 0.0, True), (100, 99, 0.0, False),
    ])
    def test_the_deactivation_ratio(self, active: int, remaining: int, ratio: float, trips: bool) -> None:
        users = [fake_user(f"u{i}", LIAISON) for i in range(remaining)]

        plan = plan_for(users, self.active(active))

        assert len(plan.deactivations) == active - remaining
        assert (tripped(plan, config(max_deactivation_ratio=ratio)) is not None) is trips
