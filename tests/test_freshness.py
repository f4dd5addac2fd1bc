"""Freshness: statuses and reasons through the API with a pinned clock, the report, the CLI and hooks."""

from __future__ import annotations

import json
from types import SimpleNamespace

from click.testing import CliRunner

from directory import freshness, organisations, runtime
from directory.cli.freshness import freshness_group
from directory.models.entries import Organisation
from directory.models.sync import SyncRun
from tests.conftest import auth

API = "/api/v1/organisations"
DAY = 86400
T0 = 1_780_000_000  # 2026-05-28 20:26 UTC
TESTED = "2026-05-28T20:26:40Z"  # == T0


def _status(client, entry_id, token=None):
    response = client.get(f"{API}/{entry_id}", headers=auth(token) if token else {})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    return body["status"], body["status_reasons"], response.headers["ETag"]


def test_entry_walks_fresh_due_stale_expired_and_back(client, clock, make_org, token_for):
    clock(T0)
    channel = {"kind": "phone", "value": "+49 30 901821", "conditions": "Threat to life only",
               "last_tested_at": TESTED}
    entry_id = make_org(emergency_channels=[channel])
    publisher = token_for("publisher", entry_id)
    assert _status(client, entry_id)[:2] == ("fresh", [])

    clock(T0 + 61 * DAY)  # the emergency line's test comes due (90 days, warned 30 before)
    status, reasons, etag = _status(client, entry_id, publisher)
    assert status == "due"
    assert reasons == ["emergency line 1 (phone) untested since 2026-05-28; test it by 2026-08-26"]
    tested = client.post(f"{API}/{entry_id}/emergency-channels/0/tested",
                         headers=auth(publisher, **{"If-Match": etag}))
    assert tested.status_code == 200, tested.get_json()
    assert tested.get_json()["status"] == "fresh"
    assert tested.get_json()["emergency_channels"][0]["last_tested_at"] == "2026-07-28T20:26:40Z"

    clock(T0 + 150 * DAY + 3600)
    status, reasons, _ = _status(client, entry_id)  # anonymous: the public view shows it too
    assert status == "due"
    assert "entry not confirmed since 2026-05-28; re-confirm by 2026-11-24" in reasons

    clock(T0 + 181 * DAY)
    status, reasons, _ = _status(client, entry_id, token_for("reader"))
    assert status == "stale"
    assert reasons[:2] == ["entry not confirmed since 2026-05-28",
                           "emergency line 1 (phone) untested since 2026-07-28"]

    clock(T0 + 366 * DAY)
    publisher = token_for("publisher", entry_id)  # tokens live 365 days too
    status, reasons, etag = _status(client, entry_id, publisher)
    assert status == "expired"
    assert reasons[0] == "entry expired on 2027-05-28"

    confirmed = client.post(f"{API}/{entry_id}/confirm", headers=auth(publisher, **{"If-Match": etag}))
    assert confirmed.status_code == 200, confirmed.get_json()
    # Re-confirmation renews the entry; the emergency line still needs its test.
    assert confirmed.get_json()["status"] == "stale"
    assert confirmed.get_json()["status_reasons"] == ["emergency line 1 (phone) untested since 2026-07-28"]
    tested = client.post(f"{API}/{entry_id}/emergency-channels/0/tested",
                         headers=auth(publisher, **{"If-Match": confirmed.headers["ETag"]}))
    assert (tested.get_json()["status"], tested.get_json()["status_reasons"]) == ("fresh", [])

    listed = client.get(API).get_json()["items"]
    assert [(i["id"], i["status"]) for i in listed] == [(entry_id, "fresh")]
    # The stored views are immutable per version: they never hold the time-dependent status.
    row = Organisation.get_by_id(entry_id)
    assert "status" not in json.loads(row.public_view) and "status" not in json.loads(row.reader_view)


def test_recording_a_test_needs_the_right_account_and_a_real_channel(client, clock, make_org, token_for):
    clock(T0)
    entry_id = make_org()
    other = token_for("publisher", make_org(name="Other Telecom"))
    etag = client.get(f"{API}/{entry_id}").headers["ETag"]
    url = f"{API}/{entry_id}/emergency-channels/0/tested"
    assert client.post(url, headers=auth(other, **{"If-Match": etag})).status_code == 403
    assert client.post(url, headers=auth(token_for("publisher", entry_id))).status_code == 428
    missing = client.post(f"{API}/{entry_id}/emergency-channels/5/tested",
                          headers=auth(token_for("admin"), **{"If-Match": etag}))
    assert missing.status_code == 404


def test_a_never_tested_emergency_line_is_due(client, clock, make_org):
    clock(T0)
    entry_id = make_org()  # the factory's channel has no last_tested_at
    assert _status(client, entry_id)[:2] == ("due", ["emergency line 1 (phone) has never been tested"])


def _row(**clocks):
    base = {"registrar": "https://node-a.example", "not_after": T0 + 300 * DAY, "confirmed_at": T0,
            "source_valid_until": None}
    columns = {k: clocks.pop(k) for k in list(clocks) if k in base}
    return SimpleNamespace(**{**base, **columns, "freshness": json.dumps(clocks)})


POLICY = freshness.Policy(confirm_days=180, test_days=90, warn_days=30, ldap_intervals=2)


def test_key_expiry_is_due_then_stale():
    row = _row(keys=[["A" * 40, "organisation", T0 + 20 * DAY]])
    assert freshness.evaluate(row, T0, POLICY) == freshness.Status(
        "due", [f"key of the organisation ({'A' * 16}) expires on 2026-06-17"])
    assert freshness.evaluate(row, T0 + 21 * DAY, POLICY) == freshness.Status(
        "stale", [f"key of the organisation ({'A' * 16}) expired on 2026-06-17"])


def test_ldap_contacts_are_current_while_their_source_syncs(app):
    hour = 3600
    row = _row(ldap={"corp": T0})
    assert freshness.evaluate(row, T0 + hour, POLICY, ldap_seen={}).status == "fresh"
    stale = freshness.evaluate(row, T0 + 2 * hour, POLICY, ldap_seen={})
    assert stale == freshness.Status("stale", ["contacts from LDAP source 'corp' not seen in LDAP since "
                                               "2026-05-28 20:26 UTC"])
    # A complete sync later than verified_at counts as seeing them (verified_at is restamped rarely).
    SyncRun.create(source="corp", started_at=T0 + 90 * 60, finished_at=T0 + 91 * 60, outcome="nothing_to_do")
    SyncRun.create(source="corp", started_at=T0 + 100 * 60, finished_at=T0 + 101 * 60, outcome="ldap_error")
    assert freshness.evaluate(row, T0 + 2 * hour, POLICY).status == "fresh"
    assert freshness.evaluate(row, T0 + 90 * 60 + 2 * hour, POLICY).status == "stale"


def test_source_stale_after_the_registrars_checkpoint_lapses(client, clock, make_org):
    clock(T0)
    entry_id = make_org(emergency_channels=None)
    assert freshness.set_source_valid_until("https://node-a.example", T0 + 60) == 1
    assert _status(client, entry_id)[0] == "fresh"
    clock(T0 + 61)
    status, reasons, _ = _status(client, entry_id)
    assert (status, reasons) == ("source_stale", ["registrar https://node-a.example has published no valid "
                                                  "checkpoint since 2026-05-28 20:27 UTC"])


def test_next_change_is_the_first_edge_where_the_status_can_move():
    row = _row(channels=[["phone", T0]], not_after=T0 + 100 * DAY)
    # Edges (warned 30 days before each deadline): the line's test at 60/90 days, the validity at 70/100,
    # the confirmation at 150/180.
    assert freshness.next_change(row, T0, POLICY) == T0 + 60 * DAY
    assert freshness.next_change(row, T0 + 60 * DAY, POLICY) == T0 + 70 * DAY  # at an edge: the next one
    assert freshness.evaluate(row, T0 + 60 * DAY - 1, POLICY).status == "fresh"
    assert freshness.evaluate(row, T0 + 60 * DAY, POLICY).status == "due"
    checkpoint = _row(source_valid_until=T0 + 60)
    assert freshness.next_change(checkpoint, T0, POLICY) == T0 + 60
    # LDAP contacts are judged by their source's last sync as well: no edge can be told from the row.
    assert freshness.next_change(_row(ldap={"corp": T0}), T0, POLICY) is None


def test_a_cached_status_still_changes_at_the_edge(client, clock, make_org):
    clock(T0)
    entry_id = make_org(emergency_channels=None)
    freshness.set_source_valid_until("https://node-a.example", T0 + 10)
    assert _status(client, entry_id)[0] == "fresh"
    clock(T0 + 9)
    assert _status(client, entry_id)[0] == "fresh"
    clock(T0 + 10)  # within the cache's minute, but at the row's edge
    assert _status(client, entry_id)[0] == "source_stale"
    clock(T0 + 5)  # a clock set back is never answered from what was computed later
    assert _status(client, entry_id)[0] == "fresh"


def test_report_counts_and_orders_worst_first(client, clock, make_org, token_for, settings, monkeypatch):
    clock(T0 - 200 * DAY)
    old = make_org(name="Old Telecom", emergency_channels=None)
    clock(T0)
    fresh = make_org(name="Fresh Telecom", emergency_channels=None)
    untested = make_org(name="Untested Telecom")
    report = freshness.report(T0 + DAY)
    assert report.counts == {"fresh": 1, "due": 1, "stale": 1, "source_stale": 0, "expired": 0}
    assert [w["id"] for w in report.worst] == [old, untested]
    assert fresh not in {w["id"] for w in report.worst}

    assert client.get("/api/v1/freshness", headers=auth(token_for("publisher", old))).status_code == 403
    body = client.get("/api/v1/freshness?limit=1", headers=auth(token_for("admin"))).get_json()
    assert body["counts"]["stale"] == 1 and [w["name"] for w in body["worst"]] == ["Old Telecom"]

    for name, value in settings.items():
        monkeypatch.setenv(f"DIRECTORY_{name}", str(value))
    result = CliRunner().invoke(freshness_group, ["check"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("3 entries at ") and "1 fresh, 1 due, 1 stale" in lines[0]
    assert lines[1].startswith("stale        Old Telecom") and "entry not confirmed since" in lines[2]
    runtime.set_clock(None)


def test_the_time_dependent_fields_are_computed_once_until_they_can_change(app, clock, monkeypatch):
    computed = []
    monkeypatch.setattr(organisations, "_timely",
                        lambda row, _version: computed.append(row.entry_id) or {"signatures": []})
    clock(T0)

    def current(entry_id, **clocks):
        clocks = {"keys": [], "channels": [], "ldap": {}, **clocks}
        return organisations._Current(entry_id, "https://node-a.example", 1, "d" * 64, T0 + 300 * DAY, T0,
                                      json.dumps(clocks), None, b"{}", "[]")

    for _ in range(3):
        organisations._timely_json(current("urn:cpd:test:plain"))
    for _ in range(2):  # LDAP contacts: judged by the source's last sync too, so never kept
        organisations._timely_json(current("urn:cpd:test:ldap", ldap={"corp": T0}))
    clock(T0 + organisations.TIMELY_SECONDS)  # kept a minute at most (signature statuses move with time)
    organisations._timely_json(current("urn:cpd:test:plain"))

    assert computed == ["urn:cpd:test:plain"] + ["urn:cpd:test:ldap"] * 2 + ["urn:cpd:test:plain"]
