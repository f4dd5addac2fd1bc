"""Organisations over HTTP: visibility by role, authorisation, versions, preconditions."""

from __future__ import annotations

import hashlib
import json

import pytest

from directory import runtime
from directory.models.audit import AuditEvent
from directory.models.entries import EntryVersion
from tests.conftest import auth, row_counts
from tests.factories import organisation, police

API = "/api/v1/organisations"


def test_anonymous_list_shows_public_fields_only(client, make_org):
    make_org()
    body = client.get(API).get_json()
    assert body["total"] == 1
    item = body["items"][0]
    text = json.dumps(body)
    assert item["name"] == "Example Telecom" and item["switchboard_phone"] == "+4930901820"
    assert "contacts" not in item
    assert "Erika" not in text and "erika.mustermann" not in text and "+4930901822" not in text
    # That an emergency channel exists, and its conditions, are public; its number is not.
    assert item["emergency_channels"] == [{"kind": "phone", "conditions": "Threat to life only",
                                           "always_open": True}]


def test_reader_sees_contacts_and_emergency_numbers(client, make_org, token_for):
    entry_id = make_org()
    response = client.get(f"{API}/{entry_id}", headers=auth(token_for("reader")))
    assert response.status_code == 200
    data = response.get_json()
    assert data["contacts"][0]["email"] == "erika.mustermann@telecom.example"
    assert data["emergency_channels"][0]["value"] == "+4930901821"


def test_bad_token_is_refused_not_downgraded(client, make_org):
    make_org()
    response = client.get(API, headers=auth("cpd_not-a-real-token"))
    assert response.status_code == 401
    assert response.get_json()["code"] == 401


def test_publisher_cannot_modify_another_organisation(client, make_org, token_for):
    own, other = make_org(), make_org(name="Other Hosting")
    token = token_for("publisher", own)
    etag = client.get(f"{API}/{other}").headers["ETag"]
    before = row_counts()
    response = client.patch(f"{API}/{other}", json={"name": "Hijacked"},
                            headers=auth(token, **{"If-Match": etag}))
    assert response.status_code == 403
    assert row_counts() == before
    assert client.get(f"{API}/{other}").get_json()["name"] == "Other Hosting"


def test_publisher_cannot_set_server_or_admin_owned_fields(client, make_org, token_for):
    entry_id = make_org()
    token = token_for("publisher", entry_id)
    etag = client.get(f"{API}/{entry_id}").headers["ETag"]
    for body, status in (({"version": 99}, 422), ({"registrar": "https://evil.example"}, 422),
                         ({"kind": "law_enforcement"}, 403), ({"country": "FR"}, 403)):
        before = row_counts()
        response = client.patch(f"{API}/{entry_id}", json=body, headers=auth(token, **{"If-Match": etag}))
        assert response.status_code == status, body
        field = next(iter(body))
        errors = response.get_json()["errors"]
        assert field in json.dumps(errors)
        assert row_counts() == before


def test_publisher_edits_own_organisation_and_history_grows(client, make_org, token_for):
    entry_id = make_org()
    token = token_for("publisher", entry_id)
    first = client.get(f"{API}/{entry_id}")
    response = client.patch(f"{API}/{entry_id}", json={"website": "https://new.telecom.example"},
                            headers=auth(token, **{"If-Match": first.headers["ETag"]}))
    assert response.status_code == 200
    assert response.get_json()["version"] == 2
    assert response.headers["ETag"] != first.headers["ETag"]
    history = client.get(f"{API}/{entry_id}/versions").get_json()
    assert [v["version"] for v in history] == [2, 1]
    old = client.get(f"{API}/{entry_id}/versions/1").get_json()
    assert old["website"] == "https://www.telecom.example"
    v1 = EntryVersion.get((EntryVersion.entry_id == entry_id) & (EntryVersion.version == 1))
    assert history[0]["prev"] == hashlib.sha256(bytes(v1.payload)).hexdigest()
    v2 = EntryVersion.get(EntryVersion.version == 2)
    assert json.loads(bytes(v2.payload))["prev"] == history[0]["prev"]


def test_unchanged_patch_writes_no_version(client, make_org, token_for):
    entry_id = make_org()
    etag = client.get(f"{API}/{entry_id}").headers["ETag"]
    response = client.patch(f"{API}/{entry_id}", json={"name": "Example Telecom"},
                            headers=auth(token_for("admin"), **{"If-Match": etag}))
    assert response.status_code == 200 and response.get_json()["version"] == 1


def test_writes_need_a_current_etag(client, make_org, token_for):
    entry_id = make_org()
    token = token_for("admin")
    missing = client.patch(f"{API}/{entry_id}", json={"name": "X"}, headers=auth(token))
    assert missing.status_code == 428
    stale = client.patch(f"{API}/{entry_id}", json={"name": "X"},
                         headers=auth(token, **{"If-Match": '"0000"'}))
    assert stale.status_code == 412
    assert client.get(f"{API}/{entry_id}").get_json()["version"] == 1


def test_delete_writes_a_tombstone_and_keeps_history(client, make_org, token_for):
    entry_id = make_org()
    etag = client.get(f"{API}/{entry_id}").headers["ETag"]
    response = client.delete(f"{API}/{entry_id}", headers=auth(token_for("admin"), **{"If-Match": etag}))
    assert response.status_code == 204
    assert client.get(f"{API}/{entry_id}").status_code == 410
    history = client.get(f"{API}/{entry_id}/versions").get_json()
    assert [(v["version"], v["tombstone"]) for v in history] == [(2, True), (1, False)]
    assert client.get(API).get_json()["total"] == 0


def test_only_admins_create(client, token_for):
    body = organisation()
    assert client.post(API, json=body).status_code == 401
    assert client.post(API, json=body, headers=auth(token_for("reader"))).status_code == 403
    created = client.post(API, json=body, headers=auth(token_for("admin")))
    assert created.status_code == 201
    assert created.get_json()["id"].startswith("urn:cpd:node-a.example:")
    assert created.headers["Location"].endswith(created.get_json()["id"])


def test_list_filters_and_pages_in_sql(client, make_org):
    for index in range(5):
        make_org(name=f"Provider {index}")
    make_org(**police())
    page = client.get(f"{API}?kind=service_provider&per_page=2&page=2").get_json()
    assert page["total"] == 5 and page["per_page"] == 2
    assert [i["name"] for i in page["items"]] == ["Provider 2", "Provider 3"]
    assert client.get(f"{API}?country=AZ").get_json()["total"] == 1
    assert client.get(f"{API}?request_type=preservation").get_json()["total"] == 6
    assert client.get(f"{API}?language=az").get_json()["total"] == 1


def test_filters_are_read_as_the_values_are_stored(client, make_org):
    # `country=de` and `language=EN` answered an empty list (stored: DE, en), and so did a language
    # that is no tag at all; search already read `country=de` as DE.
    make_org()
    assert client.get(f"{API}?country=de").get_json()["total"] == 1
    assert client.get(f"{API}?language=EN").get_json()["total"] == 1
    assert client.get("/api/v1/search?language=EN").get_json()["total"] == 1
    for path in (f"{API}?language=english", f"{API}?country=XX", "/api/v1/search?language=english"):
        response = client.get(path)
        assert response.status_code == 422 and response.get_json()["errors"]["query"], path


def test_page_size_is_capped_and_unknown_filters_rejected(client, make_org):
    make_org()
    assert client.get(f"{API}?per_page=101").status_code == 422
    response = client.get(f"{API}?contry=DE")
    assert response.status_code == 422 and "contry" in json.dumps(response.get_json()["errors"])


def test_conditional_get(client, make_org):
    entry_id = make_org()
    etag = client.get(f"{API}/{entry_id}").headers["ETag"]
    assert client.get(f"{API}/{entry_id}", headers={"If-None-Match": etag}).status_code == 304


def test_answers_to_an_account_are_never_cached(client, make_org, token_for):
    entry_id = make_org()
    restricted = client.get(f"{API}/{entry_id}", headers=auth(token_for("reader")))
    public = client.get(f"{API}/{entry_id}")

    assert restricted.status_code == public.status_code == 200
    assert restricted.headers["Cache-Control"] == "no-store"
    assert "Cache-Control" not in public.headers  # public fields may be cached ...
    assert "Authorization" in public.vary and "Authorization" in restricted.vary  # ... never for a token
    refused = client.get(f"{API}/{entry_id}", headers=auth("cpd_not-a-real-token"))
    assert refused.status_code == 401 and refused.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("write", ["patch", "confirm", "add_contact"])
def test_a_spent_quota_still_lets_a_publisher_read_and_write_its_own_organisation(client, make_org, token_for,
                                                                                 monkeypatch, write):
    # The quota is against copying the directory. A write is answered with the entry it wrote: counted,
    # a spent quota answered a committed write 429 (the retry met a 412), then refused the write itself.
    # Reads of one's own organisation are audited but not counted.
    entry_id, other = make_org(), make_org(name="Other Telecom")
    publisher = token_for("publisher", entry_id)
    monkeypatch.setitem(runtime.settings(), "READ_QUOTA", 1)
    assert client.get(f"{API}/{other}", headers=auth(publisher)).status_code == 200  # the quota is spent
    assert client.get(f"{API}/{other}", headers=auth(publisher)).status_code == 429
    own = client.get(f"{API}/{entry_id}", headers=auth(publisher))
    assert own.status_code == 200
    headers = auth(publisher, **{"If-Match": own.headers["ETag"]})
    contact = {"display_name": "Night desk", "email": "night@telecom.example"}
    response = {
        "patch": lambda: client.patch(f"{API}/{entry_id}", json={"name": "Renamed"}, headers=headers),
        "confirm": lambda: client.post(f"{API}/{entry_id}/confirm", headers=headers),
        "add_contact": lambda: client.post(f"{API}/{entry_id}/contacts", headers=headers, json=contact),
    }[write]()
    assert response.status_code in (200, 201)
    assert EntryVersion.select().where(EntryVersion.entry_id == entry_id).count() == 2
    reads = [(e.target, json.loads(e.details).get("level")) for e in
             AuditEvent.select().where(AuditEvent.action == "read.organisation").order_by(AuditEvent.seq)]
    assert reads[-2:] == [(entry_id, "full"), (entry_id, "full")]  # the read and the write's answer
    assert client.get(f"{API}/{other}", headers=auth(publisher)).status_code == 429  # others' still refused
