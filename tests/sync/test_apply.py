"""`run_source` over the fake source: outcomes, one transaction per applied run, run records, races."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from directory import entries
from directory.models.audit import AuditEvent
from directory.models.sync import SyncRun
from directory.sync import apply, run_source
from directory.sync.source import DirectoryUnavailable, IncompleteResult
from tests.sync.conftest import stored, toml_source
from tests.sync.fakes import FakeSource, fake_user

LIAISON = "cn=liaison,ou=groups,dc=corp,dc=example"


@pytest.fixture
def org(make_org: Callable[..., str]) -> str:
    return make_org(official_email_domains=["corp.example"], country="GB")


@pytest.fixture
def config_file(tmp_path: Path, org: str) -> Path:
    path = tmp_path / "sync.toml"
    path.write_text(toml_source({
        "name": "corp", "url": "ldaps://ldap.corp.example", "bind_dn": "cn=sync,dc=corp,dc=example",
        "password_env": "UNUSED_BY_THE_FAKE", "base_dn": "dc=corp,dc=example", "organisation": org,
        "groups": [{"dn": LIAISON, "request_types": ["preservation"]}]}))
    return path


def run(path: Path, fake: FakeSource, **kwargs: Any) -> apply.SyncResult:
    options = {"dry_run": False, "force": False, **kwargs}
    return run_source("corp", path=path, source_factory=lambda config: fake, **options)


def test_an_applied_run_writes_one_version_with_its_record_and_audit(config_file: Path, org: str) -> None:
    before = entries.get_document(org)["version"]

    result = run(config_file, FakeSource([fake_user("ann", LIAISON), fake_user("bob", LIAISON)]))

    assert (result.outcome, result.exit_code, result.version) == ("applied", 0, before + 1)
    run_row = SyncRun.get_by_id(result.run_id)
    assert (run_row.outcome, run_row.version, run_row.organisation) == ("applied", before + 1, org)
    assert json.loads(run_row.counts)["added"] == 2
    event = AuditEvent.select().where(AuditEvent.action == "sync.ldap").order_by(AuditEvent.seq.desc()).get()
    assert event.actor == "system:ldap-sync:corp" and event.target == org
    assert json.loads(event.details)["version"] == before + 1
    assert "@" not in event.details and "Example" not in event.details


@pytest.mark.parametrize(("error", "outcome"), [
    (DirectoryUnavailable("bind failed"), "ldap_error"),
    (IncompleteResult("search ended with sizeLimitExceeded", 4), "incomplete"),
])
def test_directory_failures_change_nothing(config_file: Path, org: str, error: Exception,
                                           outcome: str) -> None:
    run(config_file, FakeSource([fake_user("ann", LIAISON)]))
    before = stored(org)

    result = run(config_file, FakeSource(error=error))

    assert (result.outcome, result.exit_code) == (outcome, 1)
    assert stored(org) == before
    assert SyncRun.get_by_id(result.run_id).message == str(error)


def test_a_dry_run_records_itself_and_changes_nothing(config_file: Path, org: str) -> None:
    before = stored(org)

    result = run(config_file, FakeSource([fake_user("ann", LIAISON)]), dry_run=True)

    assert (result.outcome, result.exit_code) == ("dry_run", 0)
    assert result.plan is not None and len(result.plan.additions) == 1
    assert stored(org) == before


def test_configuration_errors_exit_2(config_file: Path, tmp_path: Path, make_org: Callable[..., str]) -> None:
    unknown = run_source("nope", dry_run=False, force=False, path=config_file)
    missing_org = tmp_path / "other.toml"
    missing_org.write_text(config_file.read_text().replace("urn:cpd:", "urn:cpd:missing-"))
    no_org = run(missing_org, FakeSource([fake_user("ann", LIAISON)]))

    assert (unknown.outcome, unknown.exit_code) == ("config_error", 2)
    assert "no source named 'nope'" in unknown.message
    assert (no_org.outcome, no_org.exit_code) == ("config_error", 2)
    assert SyncRun.get_by_id(unknown.run_id).outcome == "config_error"


def test_a_publisher_edit_between_plan_and_write_is_planned_again(
        config_file: Path, org: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real_plan = apply.make_plan
    calls: list[int] = []

    def plan_then_someone_edits(*args: Any) -> Any:
        plan = real_plan(*args)
        calls.append(plan.base_version)
        if len(calls) == 1:  # the race: a publisher saves while the sync is planning
            entries.update(org, {"name": "Renamed Telecom"}, entries.Actor.system("publisher-test"))
        return plan

    monkeypatch.setattr(apply, "make_plan", plan_then_someone_edits)

    result = run(config_file, FakeSource([fake_user("ann", LIAISON)]))

    assert result.outcome == "applied"
    assert calls == [calls[0], calls[0] + 1]
    document = entries.get_document(org)
    assert document["name"] == "Renamed Telecom"  # the publisher's edit survived
    assert any(c["source"] == "ldap:corp" for c in document["contacts"])


def test_recent_runs_lists_newest_first(config_file: Path) -> None:
    run(config_file, FakeSource([fake_user("ann", LIAISON)]))
    run(config_file, FakeSource([fake_user("ann", LIAISON)]))

    runs = apply.recent_runs("corp")

    assert [r["outcome"] for r in runs[:2]] == ["nothing_to_do", "applied"]
    assert runs[0]["counts"]["designated"] == 1
