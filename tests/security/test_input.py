"""Hostile input: server-owned fields, oversized and deeply nested bodies, malformed Unicode, CRLF in
values and headers. Each is refused with the right status and changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from directory import documents
from tests.conftest import auth
from tests.security.conftest import World, data_counts

API = "/api/v1/organisations"


@pytest.fixture
def admin(token_for: Any) -> str:
    return str(token_for("admin"))


def _patch(client: Any, world: World, token: str, data: bytes | str, **headers: str) -> Any:
    etag = client.get(f"{API}/{world.victim}").headers["ETag"]
    return client.patch(f"{API}/{world.victim}", data=data, content_type="application/json",
                        headers=auth(token, **{"If-Match": etag}, **headers))


@pytest.mark.parametrize("name", documents.SERVER_OWNED)
def test_server_owned_fields_are_refused(client, world, admin, name):
    before = data_counts()
    response = _patch(client, world, admin, json.dumps({name: "x"}))
    assert response.status_code == 422 and name in response.get_json()["errors"]["json"]
    created = client.post(API, json={"kind": "service_provider", "name": "X", "country": "DE",
                                     "website": "https://x.example", "switchboard_phone": "+49 30 901820",
                                     "timezone": "Europe/Berlin", name: "x"}, headers=auth(admin))
    assert created.status_code == 422
    assert data_counts() == before


@pytest.mark.parametrize("name", documents.CONTACT_SERVER_OWNED)
def test_contact_server_owned_fields_are_refused(client, world, token_for, name):
    token = token_for("publisher", world.victim)
    etag = client.get(f"{API}/{world.victim}").headers["ETag"]
    before = data_counts()
    response = client.patch(f"{API}/{world.victim}/contacts/{world.contact_id}", json={name: "ldap:corp"},
                            headers=auth(token, **{"If-Match": etag}))
    assert response.status_code == 422
    assert data_counts() == before


def test_publisher_cannot_change_what_the_organisation_is(client, world, token_for):
    token = token_for("publisher", world.victim)
    before = data_counts()
    assert _patch(client, world, token, json.dumps({"country": "FR"})).status_code == 403
    assert data_counts() == before


def test_oversized_body_is_413(client, world, admin):
    before = data_counts()
    body = json.dumps({"name": "x" * 300_000})
    assert _patch(client, world, admin, body).status_code == 413
    assert data_counts() == before


@pytest.mark.parametrize("depth", [50, 5000])
def test_deeply_nested_body_is_refused(client, world, admin, depth):
    before = data_counts()
    body = '{"programme": ' + "[" * depth + "]" * depth + "}"
    response = _patch(client, world, admin, body)
    assert response.status_code in {400, 422}
    assert data_counts() == before


@pytest.mark.parametrize("raw", [
    b'{"name": "\\ud800 lone high surrogate"}',
    b'{"name": "\\udc00"}',
    b'{"name": "overlong \xc0\xaf slash"}',
    b'{"name": "truncated \xe2\x82"}',
    b'{"name": "nul \\u0000 byte"}',
])
def test_malformed_unicode_is_refused(client, world, admin, raw):
    before = data_counts()
    response = _patch(client, world, admin, raw)
    assert response.status_code in {400, 422}, response.data[:300]
    assert data_counts() == before


@pytest.mark.parametrize("value", ["Example\r\nSet-Cookie: owned=1", "Example\nX-Injected: 1", "Tab\x0bVT"])
def test_line_breaks_in_single_line_fields_are_refused(client, world, admin, value):
    before = data_counts()
    response = _patch(client, world, admin, json.dumps({"name": value}))
    assert response.status_code == 422
    assert data_counts() == before


def test_crlf_in_path_and_headers_does_not_reach_response_headers(client, world):
    response = client.get(f"{API}/x%0d%0aSet-Cookie:%20owned=1")
    assert response.status_code == 404
    assert "owned" not in str(response.headers)
    traced = client.get(f"{API}/{world.victim}", headers={"X-Request-Id": "abc\tdef"})
    assert "\t" not in traced.headers.get("X-Request-Id", "")


def test_log_lines_stay_one_json_object_each(client, world, caplog):
    import logging

    with caplog.at_level(logging.INFO):
        client.get(f"{API}/evil%0a{{\"level\":\"error\"}}")
        client.get("/api/v1/organisations?name=a%0d%0ab")
    for record in caplog.records:
        assert "\n" not in record.getMessage() and "\r" not in record.getMessage()
