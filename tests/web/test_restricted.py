"""Anonymous visitors never see restricted fields on any page; signed-in readers do (so it can fail)."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient

from directory.models.audit import AuditEvent
from tests import factories
from tests.web.conftest import WebAccount, sign_in

# Personal data of the factory organisations: contact names, emails and direct phones, and the number of
# the emergency line (that a channel exists and its conditions are public; its number is not).
RESTRICTED = ("Mustermann", "erika.mustermann@", "901822", "901821", "Mammadova", "a.mammadova@")


def _pages(app: Flask, entry_ids: list[str]) -> list[str]:
    """Every GET page of the web UI, with real ids filled in (publish/admin pages answer 401 here)."""
    pages = ["/", "/?q=telecom", "/?q=Mustermann", "/?q=erika.mustermann@telecom.example",
             "/?q=%2B4930901822", "/?q=police", "/?kind=law_enforcement", "/?emergency=1",
             "/verify", "/settings", "/sign-in", "/account", "/no-such-page", "/?lang=az"]
    for entry_id in entry_ids:
        pages += [f"/organisations/{entry_id}", f"/organisations/{entry_id}?lang=az"]
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(("publish.", "admin.")) and "GET" in (rule.methods or set()):
            pages.append(rule.rule.replace("<path:entry_id>", entry_ids[0]).replace("<int:version>", "1")
                         .replace("<int:account_id>", "1"))
    return pages


def _bodies(client: FlaskClient, pages: list[str]) -> dict[str, str]:
    """Page bodies without the echo of the visitor's own query in the search box."""
    out = {}
    for page in pages:
        with client.get(page) as response:
            body = response.get_data(as_text=True)
        asked = parse_qs(urlsplit(page).query).get("q")
        out[page] = body.replace(f'value="{escape(asked[0])}"', "") if asked else body
    return out


def test_no_page_shows_restricted_fields_to_anonymous_visitors(
        app: Flask, client: FlaskClient, make_org: Callable[..., str],
        web_account: Callable[..., WebAccount]) -> None:
    ids = [make_org(), make_org(**factories.police(emergency_channels=[
        {"kind": "phone", "value": "+994 12 590 18 21", "conditions": "Threat to life"}]))]
    pages = _pages(app, ids)
    assert any(p.startswith("/publish/") for p in pages) and any(p.startswith("/admin/") for p in pages)
    bodies = _bodies(client, pages)
    # Searching by a contact's name or email must not even reveal which organisation they work for.
    assert "0 results" in bodies["/?q=Mustermann"]
    for page, body in bodies.items():
        leaked = [word for word in RESTRICTED if word in body]
        assert not leaked, f"{page} shows {leaked} to an anonymous visitor"
    sign_in(client, web_account("reader"))
    assert "1 result" in _bodies(client, ["/?q=Mustermann&lang=en"])["/?q=Mustermann&lang=en"]
    seen = "".join(_bodies(client, [f"/organisations/{i}" for i in ids]).values())
    assert all(word in seen for word in RESTRICTED)


def test_downloading_the_bytes_to_sign_is_an_audited_restricted_read(
        client: FlaskClient, make_org: Callable[..., str], web_account: Callable[..., WebAccount]) -> None:
    """The exact signed bytes hold every contact: the publisher's download is charged and audited like the
    API's `/versions/{n}/canonical`."""
    entry_id = make_org()
    publisher = web_account("publisher", entry_id)
    sign_in(client, publisher)
    audited = AuditEvent.select().where(AuditEvent.action == "read.signed_bytes")
    assert audited.count() == 0
    with client.get(f"/publish/organisations/{entry_id}/versions/1/payload") as download:
        assert download.status_code == 200 and b"Mustermann" in download.data
    assert [(e.actor, e.target) for e in audited] == [(f"account:{publisher.account_id}", entry_id)]


def test_the_bytes_to_sign_are_not_kept_in_any_cache(
        client: FlaskClient, make_org: Callable[..., str], web_account: Callable[..., WebAccount]) -> None:
    """Not only HTML pages hold restricted data: the download of the signed bytes (every contact) must not
    stay in a browser's or proxy's cache either, as no API answer to an account does."""
    entry_id = make_org()
    sign_in(client, web_account("publisher", entry_id))
    with client.get(f"/publish/organisations/{entry_id}/versions/1/payload") as download:
        assert download.status_code == 200 and download.headers.get("Cache-Control") == "no-store"
