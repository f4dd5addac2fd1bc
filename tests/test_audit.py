"""The audit trail: `directory audit verify` names the first row that was edited, deleted or reordered,
and refused tokens are audited without their text, at most once per client and minute."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner, Result

from directory import audit, db
from directory.actors import Actor
from directory.cli import main
from directory.models.audit import AuditEvent
from tests.conftest import auth

ACTOR = Actor.system("test")


def run_verify(settings: dict[str, Any]) -> Result:
    env = {f"DIRECTORY_{k}": str(v) for k, v in settings.items()}
    return CliRunner().invoke(main, ["audit", "verify"], env=env)


@pytest.fixture
def chain(app: Any) -> list[int]:
    for n in range(5):
        audit.record(ACTOR, "test.event", f"target-{n}", "ok", {"n": n})
    return [row.seq for row in AuditEvent.select().order_by(AuditEvent.seq)]


def test_intact_chain_verifies(settings, chain):
    result = run_verify(settings)
    assert result.exit_code == 0, result.output
    assert f"intact: {len(chain)} rows" in result.output


def test_edited_row_is_named(settings, chain):
    db.database.execute_sql(f"UPDATE audit_event SET outcome = 'denied' WHERE seq = {chain[2]}")
    result = run_verify(settings)
    assert result.exit_code == 1
    assert f"row {chain[2]}" in result.output and "modified" in result.output


def test_edited_row_with_recomputed_hash_breaks_the_next_link(settings, chain):
    row = AuditEvent.get(AuditEvent.seq == chain[1])
    forged = audit._digest(row.prev_hash, row.seq, row.at, row.actor, row.action, "forged", row.outcome,
                           row.details)
    AuditEvent.update(target="forged", hash=forged).where(AuditEvent.seq == chain[1]).execute()
    result = run_verify(settings)
    assert result.exit_code == 1 and f"row {chain[2]} does not link" in result.output


def test_deleted_row_is_named(settings, chain):
    AuditEvent.delete().where(AuditEvent.seq == chain[3]).execute()
    result = run_verify(settings)
    assert result.exit_code == 1 and f"row {chain[3]} is missing" in result.output


def test_deleted_first_row_is_named(settings, chain):
    AuditEvent.delete().where(AuditEvent.seq == chain[0]).execute()
    result = run_verify(settings)
    assert result.exit_code == 1 and f"row {chain[0]} is missing" in result.output


def test_swapped_rows_are_named(settings, chain):
    a, b = (AuditEvent.get(AuditEvent.seq == s) for s in (chain[1], chain[2]))
    columns = ("at", "actor", "action", "target", "outcome", "details", "prev_hash", "hash")
    with db.write():
        AuditEvent.update({c: getattr(b, c) for c in columns}).where(AuditEvent.seq == a.seq).execute()
        AuditEvent.update({c: getattr(a, c) for c in columns}).where(AuditEvent.seq == b.seq).execute()
    result = run_verify(settings)
    assert result.exit_code == 1 and f"row {chain[1]}" in result.output


def test_refused_tokens_are_audited_once_per_minute_without_the_token(client, clock):
    clock(1_800_000_000)
    secret = "cpd_not-a-real-token-but-secret-looking"
    for _ in range(20):
        assert client.get("/api/v1/me", headers=auth(secret)).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401
    events = list(AuditEvent.select().where(AuditEvent.action == "auth.token_failure"))
    assert len(events) == 1
    stored = " ".join(str(getattr(events[0], c)) for c in ("actor", "target", "details"))
    assert secret not in stored and "127.0.0.1" not in stored
    clock(1_800_000_061)
    client.get("/api/v1/me", headers=auth(secret))
    assert AuditEvent.select().where(AuditEvent.action == "auth.token_failure").count() == 2
    assert audit.verify().ok
