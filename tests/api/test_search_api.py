"""The search, resolve, verify and export endpoints over HTTP: shapes, access, audit, rate limit."""

from __future__ import annotations

import base64
import csv
import io
from datetime import UTC, datetime

from flask import g

from directory import runtime
from directory.models.audit import AuditEvent
from directory.models.search import RateCounter
from tests import factories
from tests.conftest import auth


def anonymous_again() -> None:
    """The test client shares the app context (and `g`) between requests: forget the last actor."""
    g.pop("actor", None)


MONDAY_NOON = int(datetime(2026, 9, 21, 12, 0, tzinfo=UTC).timestamp())  # 14:00 in Berlin
SUNDAY_NOON = int(datetime(2026, 9, 20, 12, 0, tzinfo=UTC).timestamp())


def test_search_answers_with_reachable_now_in_both_zones(client, make_org, clock):
    clock(MONDAY_NOON)
    entry_id = make_org()
    found = client.get("/api/v1/search", query_string={"q": "Example Telecom", "tz": "America/New_York"})
    assert found.status_code == 200
    body = found.get_json()
    assert body["total"] == 1 and body["items"][0]["id"] == entry_id
    reachable = body["items"][0]["reachable"]
    assert reachable["open_now"] is True
    assert reachable["closes_at"] == "2026-09-21T17:00:00+02:00"
    assert reachable["caller_closes_at"] == "2026-09-21T11:00:00-04:00"
    assert "contacts" not in body["items"][0]


def test_next_open_and_the_open_now_filter_follow_the_pinned_clock(client, make_org, clock):
    clock(SUNDAY_NOON)
    make_org()
    closed = client.get("/api/v1/search", query_string={"q": "telecom"}).get_json()["items"][0]["reachable"]
    assert closed["open_now"] is False and closed["next_open"] == "2026-09-21T08:00:00+02:00"
    assert client.get("/api/v1/search", query_string={"open_now": "true"}).get_json()["total"] == 0
    clock(MONDAY_NOON)
    assert client.get("/api/v1/search", query_string={"open_now": "true"}).get_json()["total"] == 1


def test_search_refuses_unknown_parameters_and_zones(client):
    assert client.get("/api/v1/search", query_string={"qq": "x"}).status_code == 422
    refused = client.get("/api/v1/search", query_string={"tz": "Mars/Olympus"})
    assert refused.status_code == 422 and "tz" in refused.get_json()["errors"]["query"]
    assert client.get("/api/v1/search", query_string={"per_page": 1000}).status_code == 422


def test_fts_syntax_in_the_query_string_is_not_an_error(client, make_org):
    make_org()
    for text in ('"foo* AND (bar', "NEAR(a b)", "a:*|!b", "'", "\\", "{x}: y", "*"):
        answered = client.get("/api/v1/search", query_string={"q": text})
        assert answered.status_code == 200, text


def test_anonymous_search_and_resolve_are_rate_limited_per_address(client, make_org, token_for, clock):
    clock(MONDAY_NOON + 5)
    make_org()
    runtime.settings()["ANON_RATE"] = 3
    for _ in range(2):
        assert client.get("/api/v1/search").status_code == 200
    assert client.get("/api/v1/resolve", query_string={"ip": "192.0.2.1"}).status_code == 200
    limited = client.get("/api/v1/search")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "55"
    assert limited.get_json()["status"] == "Too Many Requests"
    anonymous_again()
    other = client.get("/api/v1/search", environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert other.status_code == 200
    assert client.get("/api/v1/search", headers=auth(token_for("reader"))).status_code == 200
    assert RateCounter.select().count() == 2  # shared through the database, one row per address
    clock(MONDAY_NOON + 61)
    anonymous_again()
    assert client.get("/api/v1/search").status_code == 200


def test_resolve_shows_contacts_to_readers_and_audits_it(client, make_org, token_for, clock):
    clock(MONDAY_NOON)
    entry_id = make_org()
    public = client.get("/api/v1/resolve", query_string={"ip": "2001:db8:100::1"}).get_json()
    match = public["matches"][0]
    assert match["organisation"]["id"] == entry_id and match["matched"]["prefix"] == "2001:db8:100::/48"
    assert "contacts" not in match and "value" not in match["emergency_channels"][0]
    assert match["requirements"]["languages"] == ["de", "en"]
    reader = client.get("/api/v1/resolve", query_string={"email": "x@telecom.example"},
                        headers=auth(token_for("reader"))).get_json()
    contact = reader["matches"][0]["contacts"][0]
    assert contact["email"] == "erika.mustermann@telecom.example" and contact["reachable"]["open_now"] is True
    assert reader["matches"][0]["emergency_channels"][0]["value"] == "+4930901821"
    assert AuditEvent.select().where(AuditEvent.action == "read.resolve").count() == 1


def test_resolve_needs_exactly_one_lookup(client):
    assert client.get("/api/v1/resolve").status_code == 422
    assert client.get("/api/v1/resolve", query_string={"ip": "192.0.2.1", "asn": "1"}).status_code == 422
    assert client.get("/api/v1/resolve", query_string={"ip": "300.1.1.1"}).status_code == 422


def test_verify_needs_a_reader_and_is_audited(client, make_org, token_for):
    make_org(**factories.police())
    body = {"email": "a.mammadova@police.example.org", "request_type": "preservation"}
    anonymous_again()
    assert client.post("/api/v1/verify", json=body).status_code == 401
    answered = client.post("/api/v1/verify", json=body, headers=auth(token_for("reader")))
    assert answered.status_code == 200
    result = answered.get_json()
    assert result["verdict"] == "caution"
    assert result["callback"]["switchboard_phone"] == "+994125900000"
    assert {"check", "ok", "detail"} == set(result["checks"][0])
    assert AuditEvent.select().where(AuditEvent.action == "verify").count() == 1
    refused = client.post("/api/v1/verify", json={**body, "extra": 1}, headers=auth(token_for("reader")))
    assert refused.status_code == 422


def test_a_contact_as_vcard(client, make_org, token_for):
    entry_id = make_org(name="Example Telecom; Mobile, and Fixed")
    contact_id = client.get(f"/api/v1/organisations/{entry_id}/contacts",
                            headers=auth(token_for("reader"))).get_json()[0]["contact_id"]
    path = f"/api/v1/organisations/{entry_id}/contacts/{contact_id}/vcard"
    anonymous_again()
    assert client.get(path).status_code == 401
    card = client.get(path, headers=auth(token_for("reader")))
    assert card.status_code == 200 and card.mimetype == "text/vcard"
    text = card.get_data(as_text=True)
    assert text.startswith("BEGIN:VCARD\r\nVERSION:4.0\r\n") and text.endswith("END:VCARD\r\n")
    assert "FN:Erika Mustermann\r\n" in text
    assert "ORG:Example Telecom\\; Mobile\\, and Fixed\r\n" in text
    assert "TEL;VALUE=uri;TYPE=work,voice:tel:+4930901822\r\n" in text
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    missing = client.get(f"/api/v1/organisations/{entry_id}/contacts/nope/vcard",
                         headers=auth(token_for("reader")))
    assert missing.status_code == 404


def test_a_vcard_carries_a_key_whose_armor_has_a_non_ascii_comment(client, make_org, token_for):
    # Armor headers are free text (`Comment: Jürgen's key`); the card encoded the key as ASCII: a 500.
    first, *rest = runtime.node_key().public_armored.strip().splitlines()
    armored = "\n".join([first, "Comment: Jürgen's key", *rest]) + "\n"
    fingerprint = runtime.node_key().fingerprint
    entry_id = make_org(keys=[{"public_key": armored, "use": "contact"}],
                        contacts=[{"display_name": "Jürgen", "email": "j@telecom.example",
                                   "key_fingerprints": [fingerprint]}])
    reader = token_for("reader")
    contact_id = client.get(f"/api/v1/organisations/{entry_id}/contacts",
                            headers=auth(reader)).get_json()[0]["contact_id"]
    card = client.get(f"/api/v1/organisations/{entry_id}/contacts/{contact_id}/vcard", headers=auth(reader))
    assert card.status_code == 200
    unfolded = card.get_data(as_text=True).replace("\r\n ", "")
    data = unfolded.split("data:application/pgp-keys;base64,")[1].split("\r\n")[0]
    assert base64.b64decode(data).decode() == armored


def test_search_results_as_csv_for_readers_without_formulas(client, make_org, token_for):
    make_org(name="=HYPERLINK(\"http://evil.example\")", alt_names=None)
    assert client.get("/api/v1/search.csv").status_code == 401
    exported = client.get("/api/v1/search.csv", query_string={"q": "hyperlink"},
                          headers=auth(token_for("reader")))
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert rows[0][:3] == ["id", "name", "kind"]
    assert rows[1][1] == "'=HYPERLINK(\"http://evil.example\")"
    assert rows[1][6] == "'+4930901820"
    assert rows[1][-1] == "Erika Mustermann <erika.mustermann@telecom.example>"
    assert AuditEvent.select().where(AuditEvent.action == "read.search_export").count() == 1
