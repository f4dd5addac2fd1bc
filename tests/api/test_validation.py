"""Bad input of every kind gets a 4xx in the one error shape and changes nothing."""

from __future__ import annotations

import io

import pytest

from tests.conftest import auth, row_counts
from tests.factories import organisation

API = "/api/v1/organisations"
SHAPE = {"code", "status", "message", "errors"}

BAD_FIELDS = [
    ({"country": "XX"}, "country"),
    ({"country": 49}, "country"),
    ({"switchboard_phone": "030 901820"}, "switchboard_phone"),
    ({"switchboard_phone": "+49 1"}, "switchboard_phone"),
    ({"timezone": "Europe/Atlantis"}, "timezone"),
    # The host's own zone file (/usr/share/zoneinfo/localtime): every node would read other hours.
    ({"timezone": "localtime"}, "timezone"),
    ({"languages": ["english"]}, "languages"),
    ({"ip_prefixes": ["192.0.2.1/24"]}, "ip_prefixes"),
    ({"ip_prefixes": ["2001:db8::/129"]}, "ip_prefixes"),
    ({"asns": [0]}, "asns"),
    ({"asns": ["64500"]}, "asns"),
    ({"domains": ["-bad-.example"]}, "domains"),
    ({"official_email_domains": ["not a domain"]}, "official_email_domains"),
    ({"kind": "vigilante"}, "kind"),
    ({"name": ""}, "name"),
    ({"name": "A\x00B"}, "name"),
    ({"name": "A\u2028B"}, "name"),
    ({"name": "x" * 301}, "name"),
    # Right-to-left override: stored "Police \u202egro.elpmaxe" displays as "Police example.org".
    ({"name": "Police \u202egro.elpmaxe"}, "name"),
    ({"contacts": [{"display_name": "A\u2066B\u2069", "email": "a@telecom.example"}]}, "contacts"),
    ({"name": "\u200b\u2060 "}, "name"),  # invisible characters alone: an empty name on every page
    ({"website": "javascript:alert(1)"}, "website"),
    ({"contacts": [{"display_name": "A", "email": "not-an-email"}]}, "contacts"),
    ({"contacts": [{"display_name": "A", "email": "a@telecom.example",
                    "authorised_request_types": ["wiretap"]}]}, "contacts"),
    ({"working_hours": {"weekly": {"mon": [["25:00", "26:00"]]}}}, "working_hours"),
    ({"unknown_field": 1}, "unknown_field"),
    ({"not_after": "2020-01-01"}, "not_after"),
    # UTC year 0 and 10000: the stored time could not be shown again (a 500 while writing the views).
    ({"emergency_channels": [{"kind": "phone", "value": "+49 30 901821", "conditions": "Any",
                              "last_tested_at": "0001-01-01T00:00:00+14:00"}]}, "last_tested_at"),
    ({"emergency_channels": [{"kind": "phone", "value": "+49 30 901821", "conditions": "Any",
                              "last_tested_at": "9999-12-31T23:59:59-14:00"}]}, "last_tested_at"),
    # A test "in the future" would hold off the freshness warnings about the line until then.
    ({"emergency_channels": [{"kind": "phone", "value": "+49 30 901821", "conditions": "Any",
                              "last_tested_at": "2999-01-01T00:00:00Z"}]}, "last_tested_at"),
]


@pytest.mark.parametrize(("override", "field"), BAD_FIELDS)
def test_bad_values_are_refused_and_change_nothing(client, token_for, override, field):
    token = token_for("admin")
    before = row_counts()
    response = client.post(API, json=organisation(**override), headers=auth(token))
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert set(body) == SHAPE and body["code"] == 422
    assert field in str(body["errors"])
    assert row_counts() == before


def test_malformed_json(client, token_for):
    token = token_for("admin")
    before = row_counts()
    response = client.post(API, data=b'{"name": "x",', content_type="application/json",
                           headers=auth(token))
    assert response.status_code == 400
    assert set(response.get_json()) == SHAPE
    assert row_counts() == before


def test_body_that_is_not_an_object(client, token_for):
    response = client.post(API, json=["a", "list"], headers=auth(token_for("admin")))
    assert response.status_code == 422 and set(response.get_json()) == SHAPE


def test_oversized_body(client, token_for):
    token = token_for("admin")
    before = row_counts()
    big = organisation(programme={"description": "x" * 300_000})
    response = client.post(API, json=big, headers=auth(token))
    assert response.status_code == 413
    assert set(response.get_json()) == SHAPE
    assert row_counts() == before


def test_deeply_nested_body(client, token_for):
    nested: dict = {}
    for _ in range(200):
        nested = {"a": nested}
    response = client.post(API, json=organisation(programme=nested), headers=auth(token_for("admin")))
    assert response.status_code == 422 and set(response.get_json()) == SHAPE


def test_patch_with_bad_value_leaves_entry_unchanged(client, make_org, token_for):
    entry_id = make_org()
    etag = client.get(f"{API}/{entry_id}").headers["ETag"]
    token = token_for("admin")
    before = row_counts()
    response = client.patch(f"{API}/{entry_id}", json={"timezone": "Mars/Olympus"},
                            headers=auth(token, **{"If-Match": etag}))
    assert response.status_code == 422
    assert row_counts() == before
    assert client.get(f"{API}/{entry_id}").headers["ETag"] == etag


@pytest.mark.parametrize(("method", "path", "status"), [
    ("get", "/api/v1/nowhere", 404),
    ("get", f"{API}/urn:cpd:node-a.example:missing", 404),
    ("delete", API, 405),
    ("get", "/api/v1/accounts", 401),
])
def test_every_error_path_has_the_shape(client, method, path, status):
    response = getattr(client, method)(path)
    assert response.status_code == status
    assert set(response.get_json()) == SHAPE and response.get_json()["code"] == status


def test_integer_too_long_for_python_is_a_400(client, make_org, token_for):
    # json.loads raises ValueError (not JSONDecodeError) past 4300 digits: it must not reach a 500.
    entry_id = make_org()
    token = token_for("admin")
    etag = client.get(f"{API}/{entry_id}").headers["ETag"]
    before = row_counts()
    response = client.patch(f"{API}/{entry_id}", data=b'{"asns": [' + b"9" * 5000 + b"]}",
                            content_type="application/json", headers=auth(token, **{"If-Match": etag}))
    assert response.status_code == 400, response.data[:200]
    assert set(response.get_json()) == SHAPE
    assert row_counts() == before


@pytest.mark.parametrize("path", ["/api/v1/freshness", "/api/v1/statistics", "/api/v1/approvals"])
def test_misspelt_query_parameters_are_refused_everywhere(client, token_for, path):
    # `?stauts=rejected` must not silently answer the default (pending) list.
    response = client.get(f"{path}?stauts=rejected", headers=auth(token_for("admin")))
    assert response.status_code == 422
    assert "stauts" in response.get_json()["errors"]["query"]


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain"])
def test_a_body_that_is_not_json_is_refused_not_ignored(client, make_org, token_for, content_type):
    # `curl -X PATCH -d '{...}'` sends a form content type: the body was ignored and the unchanged entry
    # answered 200, as if the change had been made.
    entry_id = make_org()
    token = token_for("admin")
    etag = client.get(f"{API}/{entry_id}").headers["ETag"]
    before = row_counts()
    response = client.patch(f"{API}/{entry_id}", data='{"name": "Renamed"}', content_type=content_type,
                            headers=auth(token, **{"If-Match": etag}))
    assert response.status_code == 415
    assert set(response.get_json()) == SHAPE
    assert row_counts() == before
    assert client.get(f"{API}/{entry_id}").get_json()["name"] == "Example Telecom"


def test_a_chunked_body_that_is_not_json_is_refused_too(client, make_org, token_for):
    # A chunked body has no Content-Length (gunicorn reads it to the end all the same).
    entry_id = make_org()
    etag = client.get(f"{API}/{entry_id}").headers["ETag"]
    headers = {"If-Match": etag, "Content-Type": "text/plain", "Transfer-Encoding": "chunked"}
    response = client.patch(f"{API}/{entry_id}", input_stream=io.BytesIO(b'{"name": "Renamed"}'),
                            headers=auth(token_for("admin"), **headers))
    assert response.status_code == 415


@pytest.mark.parametrize("path", [
    f"{API}/urn%00x", f"{API}/urn%00x/versions", f"{API}?name=a%00b", f"{API}?country=a%00",
    "/api/v1/sync/runs?source=a%00",
])
def test_a_nul_character_in_the_path_or_query_is_a_400(client, token_for, path):
    # PostgreSQL text cannot hold NUL: the driver raised DataError, a 500, even for anonymous callers.
    response = client.get(path, headers=auth(token_for("admin")))
    assert response.status_code == 400
    assert set(response.get_json()) == SHAPE


@pytest.mark.parametrize("body", [
    {"name": "desk\x00lead", "role": "reader"},
    {"name": "desk-lead", "role": "publisher", "organisations": ["urn\x00x"]},
])
def test_a_nul_character_in_a_body_is_refused_and_changes_nothing(client, token_for, body):
    token = token_for("admin")
    before = row_counts()
    response = client.post("/api/v1/accounts", json=body, headers=auth(token))
    assert response.status_code == 422
    assert set(response.get_json()) == SHAPE
    assert row_counts() == before


def test_right_to_left_names_need_no_override_and_are_kept(client, token_for):
    """Arabic or Hebrew names are displayed right to left by the bidirectional algorithm itself; a
    right-to-left mark (U+200F) to place neutral characters stays allowed."""
    name = "الشرطة الوطنية\u200f (CERT)"
    response = client.post(API, json=organisation(name=name), headers=auth(token_for("admin")))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["name"] == name
