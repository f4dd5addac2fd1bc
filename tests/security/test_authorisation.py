"""Object- and property-level authorisation on EVERY operation of the OpenAPI document: another
publisher's valid token changes nothing of the victim's, sees no more than a reader, and an anonymous
caller sees no restricted field anywhere (API and pages)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from directory.api import spec
from tests.conftest import auth
from tests.security.conftest import FULL_ONLY, READER_ONLY, World, data_counts

DOCUMENT = json.loads(spec.render())
OPERATIONS = sorted((method.upper(), path) for path, ops in DOCUMENT["paths"].items()
                    for method in ops if method in {"get", "post", "put", "patch", "delete"})
WRITES = [(m, p) for m, p in OPERATIONS if m != "GET"]
# Writes that concern no organisation's data: the attacker may use them, they must still change nothing
# of the victim's (checked by the counts and the version below).
NOT_ABOUT_AN_ORGANISATION = {("POST", "/api/v1/verify")}
BODIES: dict[str, Any] = {
    "/api/v1/organisations/{entry_id}": {"switchboard_phone": "+49 30 666666", "name": "Owned"},
    "/api/v1/organisations/{entry_id}/contacts": {"display_name": "Mole", "email": "mole@evil.example"},
    "/api/v1/organisations/{entry_id}/contacts/{contact_id}": {"email": "mole@evil.example"},
    "/api/v1/accounts": {"name": "backdoor", "role": "admin"},
}


def _url(path: str, world: World, entry_id: str | None = None) -> str:
    values = {"entry_id": entry_id or world.victim, "contact_id": world.contact_id, "version": "1",
              "index": "0", "change_id": "1"}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x"), path)


def test_the_walk_covers_the_api():
    assert ("PATCH", "/api/v1/organisations/{entry_id}") in WRITES
    assert len(OPERATIONS) >= 25


@pytest.mark.parametrize(("method", "path"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
def test_another_publisher_changes_nothing(method: str, path: str, client: Any, world: World) -> None:
    etag = client.get(f"/api/v1/organisations/{world.victim}").headers["ETag"]
    before = data_counts()
    version = client.get(f"/api/v1/organisations/{world.victim}").get_json()["version"]
    response = client.open(_url(path, world), method=method, json=BODIES.get(path, {}),
                           headers=auth(world.attacker, **{"If-Match": etag}))
    if (method, path) not in NOT_ABOUT_AN_ORGANISATION:
        assert response.status_code in {401, 403, 404, 405, 422}, (response.status_code, response.data[:300])
        assert response.status_code != 422 or "json" in response.get_json()["errors"]
    assert data_counts() == before
    assert client.get(f"/api/v1/organisations/{world.victim}").get_json()["version"] == version


@pytest.mark.parametrize("path", [p for m, p in OPERATIONS if m == "GET"])
def test_reads_show_no_more_than_the_caller_may_see(path: str, client: Any, world: World) -> None:
    url = _url(path, world)
    as_attacker = client.get(url, headers=auth(world.attacker)).get_data(as_text=True)
    # The exact signed bytes hold every contact by nature; they are served to readers only (and audited).
    if not path.endswith(("/canonical", "/envelope")):
        assert not any(value in as_attacker for value in FULL_ONLY), url
    anonymous = client.get(url).get_data(as_text=True)
    assert not any(value in anonymous for value in READER_ONLY + FULL_ONLY), url


def test_search_and_listing_filters_do_not_leak(client: Any, world: World) -> None:
    for url in ("/api/v1/organisations?per_page=100", "/api/v1/organisations?name=Example",
                "/api/v1/search?q=erika", "/api/v1/search?q=telecom",
                "/api/v1/resolve?domain=telecom.example", "/api/v1/resolve?ip=192.0.2.1"):
        body = client.get(url).get_data(as_text=True)
        assert not any(value in body for value in READER_ONLY + FULL_ONLY), url


def test_pages_show_no_restricted_field_to_visitors(client: Any, world: World) -> None:
    rules = [r for r in client.application.url_map.iter_rules()
             if "GET" in r.methods and not r.rule.startswith(("/api/", "/static", "/assets"))]
    if not rules:
        pytest.skip("no web pages")
    for rule in rules:
        url = re.sub(r"<(?:[^:>]+:)?(\w+)>", lambda m: {"entry_id": world.victim, "version": "1"}.get(
            m.group(1), "x"), rule.rule)
        body = client.get(url).get_data(as_text=True)
        assert not any(value in body for value in READER_ONLY + FULL_ONLY), url


def test_publisher_cannot_reach_admin_only_resources(client: Any, world: World) -> None:
    for url in ("/api/v1/accounts", "/api/v1/approvals", "/api/v1/statistics", "/metrics"):
        assert client.get(url, headers=auth(world.attacker)).status_code == 403, url
