"""`directory sync ldap|sources`: the plan as printed, and the exit codes cron jobs depend on."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from directory.cli import main
from directory.cli.sync import ProgressLine
from tests.sync.conftest import stored
from tests.sync.directory_data import Tree
from tests.sync.slapd import Slapd


@pytest.fixture
def invoke(settings: dict[str, Any]) -> Callable[..., Result]:
    def run(*args: str, config: Path | None) -> Result:
        env = {f"DIRECTORY_{k}": str(v) for k, v in settings.items()}
        env["DIRECTORY_SYNC_CONFIG"] = str(config or "")
        return CliRunner(env=env).invoke(main, ["sync", *args], catch_exceptions=False)

    return run


@pytest.fixture
def org(make_org: Callable[..., str]) -> str:
    return make_org(official_email_domains=["corp.example"], country="GB")


@pytest.mark.ldap
def test_dry_run_prints_the_plan_and_changes_nothing(invoke: Callable[..., Result], org: str, corp: Tree,
                                                     write_config: Callable[..., Path]) -> None:
    before = stored(org)

    result = invoke("ldap", "--source", "corp", "--dry-run", config=write_config(corp, org))

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"plan for source 'corp' -> {org}" in out
    assert ("+ add        Given10 Surname10 <u00010@corp.example> "
            "[preservation, subscriber_info, traffic_data]") in out
    assert "emergency" in out and "note: dropped invalid phone number 'not-a-number'" in out
    assert f"! skip       {corp.users['h-nomail']}: no usable email address" in out
    assert "64 to add, 0 to update, 0 to deactivate, 1 skipped" in out
    assert "dry run: nothing was changed" in out
    assert stored(org) == before


@pytest.mark.ldap
def test_exit_codes(invoke: Callable[..., Result], org: str, corp: Tree, scratch: Callable[..., Tree],
                    write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
                    tmp_path: Path) -> None:
    good = write_config(corp, org)
    monkeypatch.setenv("WRONG_PASSWORD", "wrong")
    elsewhere = scratch(1, groups={"unrelated": range(1)})
    broken = tmp_path / "broken.toml"
    broken.write_text("[[source]\n")

    applied = invoke("ldap", "--source", "corp", config=good)
    again = invoke("ldap", "--source", "corp", config=good)
    wrong = write_config(corp, org, password_env="WRONG_PASSWORD")
    ldap_error = invoke("ldap", "--source", "corp", config=wrong)
    guard = invoke("ldap", "--source", "corp", config=write_config(corp, org, base_dn=elsewhere.people))
    config_error = invoke("ldap", "--source", "corp", config=broken)
    not_configured = invoke("ldap", "--source", "corp", config=None)

    assert (applied.exit_code, again.exit_code) == (0, 0)
    assert "applied: version" in applied.stdout and "nothing_to_do" in again.stdout
    assert ldap_error.exit_code == 1 and "LDAP error:" in ldap_error.stderr
    assert "Nothing was changed." in ldap_error.stderr
    assert guard.exit_code == 3 and "guard tripped:" in guard.stderr
    assert config_error.exit_code == 2 and "not valid TOML" in config_error.stderr
    assert not_configured.exit_code == 2 and "DIRECTORY_SYNC_CONFIG" in not_configured.stderr


@pytest.mark.ldap
def test_sources_lists_last_runs(invoke: Callable[..., Result], org: str, corp: Tree, slapd: Slapd,
                                 write_config: Callable[..., Path]) -> None:
    path = write_config(corp, org)
    invoke("ldap", "--source", "corp", config=path)

    result = invoke("sources", config=path)

    assert result.exit_code == 0
    assert f"corp: openldap {slapd.url} -> {org} (every 60 min" in result.stdout
    assert "applied" in result.stdout and "version" in result.stdout


def test_progress_is_written_only_for_large_directories() -> None:
    stream = io.StringIO()
    progress = ProgressLine(stream)

    for count in (500, 1000, 2000, 9000, 12_000, 20_000, 22_500):
        progress(count)
    progress.done()

    assert stream.getvalue() == "reading the directory: 12000 entries\nreading the directory: 22500 entries\n"
