"""Web pages through the Flask test client: search, organisation page, sign-in, publishing, admin."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from directory import entries, runtime
from directory.models.federation import Peer, PeerState
from directory.models.sync import SyncRun
from directory.web import pages
from tests import factories
from tests.conftest import ADMIN
from tests.web.conftest import WebAccount, csrf_from, sign_in

WEDNESDAY_11_BERLIN = datetime(2027, 1, 13, 10, 0, tzinfo=UTC).timestamp()
SATURDAY_13_BERLIN = datetime(2027, 1, 16, 12, 0, tzinfo=UTC).timestamp()


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def banner(html: str) -> str:
    found = re.search(r'<div class="reach [a-z]+ banner"[^>]*>(.*?)</div>', html, re.S)
    assert found, "no open/closed banner on the page"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def test_search_by_domain_finds_the_organisation(client: FlaskClient, make_org: Callable[..., str],
                                                 clock: Callable[[float], None]) -> None:
    clock(WEDNESDAY_11_BERLIN)
    entry_id = make_org()
    make_org(name="Other Networks", domains=["other.example"], official_email_domains=["other.example"])
    html = text(client.get("/?q=telecom.example"))
    assert "1 result" in html
    assert f'href="/organisations/{entry_id}"' in html
    assert "Service provider" in html and "Country: DE" in html and "Open now" in html
    assert re.search(r'class="badge status-(fresh|due)">(Fresh|Due for review)<', html)
    assert "Other Networks" not in html


def test_banner_open_now_in_both_zones(client: FlaskClient, make_org: Callable[..., str],
                                       clock: Callable[[float], None]) -> None:
    clock(WEDNESDAY_11_BERLIN)
    entry_id = make_org()
    html = text(client.get(f"/organisations/{entry_id}?tz=Asia/Baku"))
    assert banner(html) == ("Open now — until 17:00 (Europe/Berlin); your time 20:00 (Asia/Baku)")


def test_banner_closed_says_when_it_opens_in_the_viewers_zone(
        client: FlaskClient, make_org: Callable[..., str], clock: Callable[[float], None]) -> None:
    clock(SATURDAY_13_BERLIN)
    entry_id = make_org()
    html = text(client.get(f"/organisations/{entry_id}"))
    assert banner(html) == ("Closed — opens at Mon 18 Jan, 08:00 (Europe/Berlin); "
                            "your time Mon 18 Jan, 07:00 (UTC)")
    assert "“your time” is UTC" in html  # the default zone is stated on the page
    response = client.get(f"/organisations/{entry_id}?tz=America/New_York")
    assert "your time Mon 18 Jan, 02:00 (America/New_York)" in banner(text(response))
    assert "tz=America/New_York" in response.headers["Set-Cookie"]
    # the zone is remembered for the next page
    assert "(America/New_York)" in banner(text(client.get(f"/organisations/{entry_id}")))


def test_search_by_ip_asn_email_and_name(client: FlaskClient, make_org: Callable[..., str]) -> None:
    entry_id = make_org()
    for query in ("192.0.2.77", "AS64500", "64500", "someone@telecom.example", "Example Telecom", "telecom"):
        html = text(client.get("/", query_string={"q": query}))
        assert f'href="/organisations/{entry_id}"' in html, query
    for odd in ("x@", "@telecom", "AS99999999999", "999.1.1.1", "a@b@c"):  # not addresses: no error page
        assert client.get("/", query_string={"q": odd}).status_code == 200, odd


def test_filters_narrow_the_results(client: FlaskClient, make_org: Callable[..., str]) -> None:
    make_org()
    police = make_org(**factories.police())
    html = text(client.get("/", query_string={"kind": "law_enforcement"}))
    assert f'href="/organisations/{police}"' in html and "Example Telecom" not in html
    html = text(client.get("/", query_string={"country": "de", "kind": "law_enforcement"}))
    assert "0 results" in html


def test_next_page_link_carries_the_search_and_nothing_else(client: FlaskClient, make_org: Callable[..., str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Query parameters that Flask's url_for reads as instructions (`_method`, `_external`, `_scheme`,
    `_anchor`) must not reach it: they gave a 500, or an absolute or foreign-scheme link."""
    monkeypatch.setattr(pages, "PER_PAGE", 1)
    make_org(name="Alpha Telecom")
    make_org(name="Alpha Net")
    for hostile in ({"_method": "POST"}, {"_scheme": "javascript"}, {"_external": "1", "_anchor": "x"}):
        response = client.get("/", query_string={"q": "Alpha", "country": "DE", **hostile})
        assert response.status_code == 200, hostile
        found = re.search(r'<a rel="next" href="([^"]+)"', text(response))
        assert found and found.group(1) == "/?q=Alpha&amp;country=DE&amp;page=2", hostile


def test_security_headers_on_pages(client: FlaskClient) -> None:
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp and "script-src" not in csp
    assert "default-src 'none'" in csp and "style-src 'self'" in csp
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    html = text(response)
    assert "<script" not in html and "style=" not in html and "<style" not in html
    with client.get("/assets/style.css") as css:
        assert css.status_code == 200 and css.headers["X-Content-Type-Options"] == "nosniff"


def test_errors_are_html_pages_and_the_api_keeps_json(client: FlaskClient) -> None:
    response = client.get("/organisations/urn:cpd:node-a.example:nothing-here")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "Page not found" in text(response) and "no organisation" in text(response)
    response = client.get("/no/such/page")
    assert response.status_code == 404 and response.mimetype == "text/html"
    api = client.get("/api/v1/organisations/urn:cpd:node-a.example:nothing-here")
    assert api.status_code == 404 and api.get_json()["status"] == "Not Found"


def test_a_nul_character_anywhere_in_a_request_is_a_bad_request_page(
        client: FlaskClient, make_org: Callable[..., str], web_account: Callable[..., WebAccount]) -> None:
    """PostgreSQL text cannot hold NUL: in a sign-in name or an entry id in the path it reached a query
    and gave a 500. No field may hold one, so every page refuses it the same way, on either database."""
    entry_id = make_org()
    token = csrf_from(text(client.get("/sign-in")))
    response = client.post("/sign-in", data={"csrf_token": token, "name": "a\x00b", "password": "p"})
    assert response.status_code == 400 and response.mimetype == "text/html"
    sign_in(client, web_account("admin"))
    for path in (f"/organisations/{entry_id}%00", f"/publish/organisations/{entry_id}%00/edit", "/?q=%00"):
        response = client.get(path)
        assert response.status_code == 400 and response.mimetype == "text/html", path


def test_organisation_page_shows_programme_services_keys_signatures_and_history(
        client: FlaskClient, make_org: Callable[..., str]) -> None:
    programme = {"description": "We answer lawful requests.",
                 "procedures": [{"request_type": "preservation", "text": "Send the order by email."}],
                 "documentation": {"legal_basis": "A court order", "reference_number_required": True},
                 "response_times": [{"request_type": "subscriber_info", "typical_hours": 48}]}
    entry_id = make_org(programme=programme)
    entries.update(entry_id, {"name": "Example Telecom GmbH"}, ADMIN)
    html = text(client.get(f"/organisations/{entry_id}"))
    for shown in ("We answer lawful requests.", "Send the order by email.", "A court order",
                  "Preservation", "Subscriber information", "48", "Mail", "Subscriber data",
                  "kept 180 days", "Threat to life only", "Signed by the registrar node", "AS64500",
                  "192.0.2.0/24", "+49 30 901820".replace(" ", ""),
                  "Working hours, local time (Europe/Berlin)",
                  "<th scope=\"row\">Monday</th><td>08:00\u201317:00</td>",
                  "<th scope=\"row\">Sunday</th><td>closed</td>", "Closed on public holidays of DE."):
        assert shown in html, shown
    assert runtime.node_key().fingerprint in html  # full fingerprint, never a short id
    history = html[html.index('id="s-history"'):]
    assert history.count("<tr><td>") == 2


def test_admin_pages_for_admins_only(client: FlaskClient, web_account: Callable[..., WebAccount],
                                     make_org: Callable[..., str], clock: Callable[[float], None]) -> None:
    clock(WEDNESDAY_11_BERLIN)
    make_org(emergency_channels=[{"kind": "phone", "value": "+49 30 901821", "conditions": "Life only"}])
    reader = web_account("reader")
    sign_in(client, reader)
    assert client.get("/admin/accounts").status_code == 403
    client.post("/sign-out", data={"csrf_token": csrf_from(text(client.get("/")))})
    sign_in(client, web_account("admin"))
    assert "Sign out" in text(client.get("/admin/"))
    accounts_page = text(client.get("/admin/accounts"))
    assert reader.name in accounts_page and "TOTP" in accounts_page
    freshness = text(client.get("/admin/freshness"))
    assert "emergency line 1 (phone) has never been tested" in freshness
    now = runtime.now()
    SyncRun.create(source="corp-ad", organisation="Example Telecom", started_at=now - 60, finished_at=now,
                   outcome="guard_tripped", counts='{"deactivated": 7}', message="would deactivate 70%")
    ldap = text(client.get("/admin/ldap"))
    assert "corp-ad" in ldap and "guard_tripped" in ldap and "deactivated: 7" in ldap
    peer = Peer.create(name="node-b", url="https://node-b.example", node_id="https://node-b.example",
                       fingerprint="A" * 40, public_key="-", created_at=now)
    PeerState.create(peer=peer, size=12, last_error="checkpoint regression", last_error_at=now)
    federation = text(client.get("/admin/federation"))
    assert "node-b" in federation and "A" * 40 in federation and "checkpoint regression" in federation


def test_verify_page_gives_the_verdict_and_the_directory_call_back_number(
        client: FlaskClient, make_org: Callable[..., str], web_account: Callable[..., WebAccount]) -> None:
    make_org(**factories.police())
    form = {"email": "a.mammadova@police.example.org", "request_type": "subscriber_info"}
    page = text(client.get("/verify"))
    assert "needs a reader account" in page
    refused = client.post("/verify", data={**form, "csrf_token": csrf_from(page)})
    assert refused.status_code == 401 and refused.mimetype == "text/html"
    sign_in(client, web_account("reader"))
    token = csrf_from(text(client.get("/verify")))
    html = text(client.post("/verify", data={**form, "csrf_token": token}))
    assert re.search(r'<h2 id="verdict-title">(Verified|Caution)</h2>', html)
    assert '<a href="tel:+994125900000">+994125900000</a>' in html
    html = text(client.post("/verify", data={"email": "a.mammadova@gmail.com", "csrf_token": token}))
    assert '<h2 id="verdict-title">Not verified</h2>' in html
    response = client.post("/verify", data={"email": "not an address", "csrf_token": token})
    assert response.status_code == 422 and "not an email address" in text(response)
    # A message longer than the API takes is refused, not cut short into a signature that fails.
    response = client.post("/verify", data={**form, "message": "x" * 200_001, "csrf_token": token})
    assert response.status_code == 422 and "longer than 200000 characters" in text(response)
    assert "verdict-title" not in text(response)


def test_anonymous_searches_are_rate_limited_like_the_api(client: FlaskClient) -> None:
    runtime.settings()["ANON_RATE"] = 2
    assert client.get("/?q=telecom").status_code == 200
    assert client.get("/?q=telecom").status_code == 200
    response = client.get("/?q=telecom")
    assert response.status_code == 429 and response.mimetype == "text/html"
    assert int(response.headers["Retry-After"]) > 0 and "Too many requests" in text(response)
    assert client.get("/").status_code == 200  # the page without a query costs nothing


def test_verify_page_shows_the_signed_text_escaped(
        client: FlaskClient, web_account: Callable[..., WebAccount], monkeypatch: pytest.MonkeyPatch) -> None:
    """The text a valid signature covers is shown for comparison with the request received; it comes
    from the requester, so it is escaped like any other input."""
    from directory.web import queries

    result = {"verdict": "verified", "checks": [], "contact": None, "organisation": None,
              "callback": {"advice": "Call back."}, "signed_text": "Preserve 192.0.2.10 <script>x()</script>"}
    monkeypatch.setattr(queries, "verify_requester", lambda _form, _actor: result)
    sign_in(client, web_account("reader"))
    token = csrf_from(text(client.get("/verify")))
    html = text(client.post("/verify", data={"email": "a@police.example", "csrf_token": token}))
    assert "What the signature covers" in html
    assert "Preserve 192.0.2.10 &lt;script&gt;x()&lt;/script&gt;" in html and "<script>x()" not in html
    result["signed_text"] = None
    html = text(client.post("/verify", data={"email": "a@police.example", "csrf_token": token}))
    assert "What the signature covers" not in html
