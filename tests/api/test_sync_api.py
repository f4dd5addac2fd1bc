"""Admins see the last LDAP sync runs and their outcome."""

from __future__ import annotations

import json

from directory.models.sync import SyncRun
from tests.conftest import auth


def _run(source: str, outcome: str, started: int) -> None:
    SyncRun.create(source=source, organisation="urn:cpd:node-a.example:x", started_at=started,
                   finished_at=started + 3, outcome=outcome, forced=False, version=None,
                   counts=json.dumps({"added": 2}), message="")


def test_admins_see_recent_runs_newest_first(client, token_for):
    _run("corp", "applied", 1_700_000_000)
    _run("corp", "guard_tripped", 1_700_003_600)
    _run("other", "ldap_error", 1_700_001_000)
    runs = client.get("/api/v1/sync/runs?source=corp", headers=auth(token_for("admin"))).get_json()
    assert [r["outcome"] for r in runs] == ["guard_tripped", "applied"]
    assert runs[0]["started_at"] == "2023-11-14T23:13:20Z" and runs[1]["counts"] == {"added": 2}


def test_sync_runs_are_for_admins_only(client, token_for):
    _run("corp", "applied", 1_700_000_000)
    assert client.get("/api/v1/sync/runs").status_code == 401
    assert client.get("/api/v1/sync/runs", headers=auth(token_for("reader"))).status_code == 403
    assert client.get("/api/v1/sync/runs?limit=0", headers=auth(token_for("admin"))).status_code == 422
