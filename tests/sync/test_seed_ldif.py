"""The demo LDIF in seeds/ loads into slapd over LDAP and plans what its header comment promises."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from directory.sync import run_source
from tests.sync.conftest import require_slapd, toml_source
from tests.sync.slapd import LocalCA, Slapd

SEED = Path(__file__).resolve().parents[2] / "seeds" / "beispielnetz-directory.ldif"
BASE = "dc=beispielnetz,dc=example"


@pytest.mark.ldap
def test_the_demo_directory_plans_as_documented(tmp_path: Path, test_ca: LocalCA,
                                                make_org: Callable[..., str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    require_slapd()
    server = Slapd(tmp_path / "demo", test_ca, suffix=BASE)
    server.setup()
    server.start()
    try:
        server.add(SEED.read_text())
        org = make_org(official_email_domains=["beispielnetz.example"], country="DE")
        monkeypatch.setenv("BEISPIELNETZ_LDAP_PASSWORD", "demo-only-change-me")
        path = tmp_path / "sync.toml"
        path.write_text(toml_source({
            "name": "beispielnetz", "url": server.url, "start_tls": True, "ca_file": str(test_ca.ca_file),
            "bind_dn": f"cn=directory-sync,ou=services,{BASE}", "password_env": "BEISPIELNETZ_LDAP_PASSWORD",
            "base_dn": f"ou=people,{BASE}", "organisation": org,
            "attributes": {"phone": ["telephoneNumber", "mobile"]},
            "groups": [{"dn": f"cn=behoerdenauskunft,ou=groups,{BASE}",
                        "request_types": ["subscriber_info", "traffic_data", "preservation"]},
                       {"dn": f"cn=rufbereitschaft,ou=groups,{BASE}",
                        "request_types": ["emergency_disclosure"], "emergency": True}]}))

        result = run_source("beispielnetz", dry_run=True, force=False, path=path)
    finally:
        server.stop()

    assert result.outcome == "dry_run", result.message
    assert result.plan is not None
    added = {a.contact["display_name"]: a for a in result.plan.additions}
    assert set(added) == {"Katharina Schulz", "Lukas Neumann", "Hannah Vogel", "Sophie Fischer", "Mia Becker",
                          "Tobias Krause"}
    assert [s.reason for s in result.plan.skipped] == ["no usable email address"]
    hannah = added["Hannah Vogel"].contact
    assert hannah["emergency"] and hannah["handles_request_types"] == [
        "preservation", "subscriber_info", "traffic_data", "emergency_disclosure"]
    assert added["Lukas Neumann"].contact["email"] == "lukas.neumann@beispielnetz.example"
    assert added["Katharina Schulz"].contact["phones"] == ["+4969123456711", "+4917612345611"]
    assert added["Katharina Schulz"].contact["languages"] == ["de", "en"]
    assert "dropped invalid phone number 'not a phone number'" in added["Tobias Krause"].notes
