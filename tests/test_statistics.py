"""Statistics (§40/§58) per UTC month from the audit log, freshness now, published response times."""

from __future__ import annotations

from datetime import UTC, datetime

from directory import audit, statistics
from directory.actors import Actor
from tests.conftest import auth

OCT = int(datetime(2026, 10, 15, tzinfo=UTC).timestamp())
NOV = int(datetime(2026, 11, 3, tzinfo=UTC).timestamp())
ISP = Actor("account", "isp", "reader", 7)


def _by_month(report: dict) -> dict[str, dict]:
    return {m["month"]: m for m in report["months"]}


def test_months_are_utc_calendar_months_oldest_first():
    spans = statistics.months(3, NOV)
    assert [label for label, _, _ in spans] == ["2026-09", "2026-10", "2026-11"]
    assert spans[1][2] == spans[2][1] == int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())
    january = int(datetime(2026, 1, 5, tzinfo=UTC).timestamp())
    assert [label for label, _, _ in statistics.months(2, january)] == ["2025-12", "2026-01"]


def test_usage_per_month(client, clock, make_org, token_for):
    clock(OCT)
    entry_id = make_org(programme={"response_times": [
        {"request_type": "preservation", "typical_hours": 24},
        {"request_type": "subscriber_info", "priority": "urgent", "typical_hours": 4}]})
    make_org(name="Other ISP", programme={"response_times": [{"request_type": "preservation",
                                                               "typical_hours": 72}]})
    reader = token_for("reader")
    assert client.get(f"/api/v1/organisations/{entry_id}", headers=auth(reader)).status_code == 200
    for verdict, request_type in (("verified", "preservation"), ("not_verified", "preservation"),
                                  ("caution", "subscriber_info")):
        audit.record(ISP, "verify", entry_id, verdict, {"request_type": request_type})
    audit.record(Actor.system("ldap-sync:corp"), "sync.ldap", entry_id, "applied", {})
    clock(NOV)
    audit.record(Actor.system("federation"), "federation.pull", "peer-b", "ok", {"applied": 3})
    audit.record(Actor.system("federation"), "federation.pull", "peer-b", "attack", {"attack": True})
    audit.record(ISP, "verify", entry_id, "verified", {"request_type": None})
    client.get("/api/v1/me", headers=auth("cpd_wrong"))

    response = client.get("/api/v1/statistics?months=2", headers=auth(token_for("admin")))
    assert response.status_code == 200
    report = response.get_json()
    october, november = _by_month(report)["2026-10"], _by_month(report)["2026-11"]
    assert october["lookups"]["by_kind"] == {"organisation": 1}
    assert october["verifications"] == {
        "total": 3, "by_verdict": {"verified": 1, "not_verified": 1, "caution": 1},
        "by_request_type": {"preservation": {"verified": 1, "not_verified": 1},
                            "subscriber_info": {"caution": 1}}}
    assert october["sync"] == {"total": 1, "by_outcome": {"applied": 1}}
    assert october["federation"]["total"] == 0 and october["changes"]["by_kind"]["create"] == 2
    assert november["federation"]["by_outcome"] == {"ok": 1, "attack": 1}
    assert november["verifications"]["by_request_type"] == {"unspecified": {"verified": 1}}
    assert november["auth_failures"] == 1 and november["lookups"]["total"] == 0
    assert sum(report["freshness"].values()) == 2
    summary = {(s["request_type"], s["priority"]): s for s in report["response_times"]["summary"]}
    assert summary[("preservation", "routine")]["median_hours"] == 48
    assert summary[("preservation", "routine")]["organisations"] == 2
    assert summary[("subscriber_info", "urgent")]["max_hours"] == 4
    assert [o["name"] for o in report["response_times"]["organisations"]] == ["Example Telecom", "Other ISP"]


def test_statistics_are_for_administrators(client, make_org, token_for):
    entry_id = make_org()
    assert client.get("/api/v1/statistics").status_code == 401
    for token in (token_for("reader"), token_for("publisher", entry_id)):
        assert client.get("/api/v1/statistics", headers=auth(token)).status_code == 403
    assert client.get("/api/v1/statistics?months=0", headers=auth(token_for("admin"))).status_code == 422
