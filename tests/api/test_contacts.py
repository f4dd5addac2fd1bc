"""Contacts: restricted to readers, changed by their organisation's publishers, versioned."""

from __future__ import annotations

from tests.conftest import auth, row_counts

API = "/api/v1/organisations"


def test_contacts_need_an_account(client, make_org, token_for):
    entry_id = make_org()
    assert client.get(f"{API}/{entry_id}/contacts").status_code == 401
    listed = client.get(f"{API}/{entry_id}/contacts", headers=auth(token_for("reader")))
    assert listed.status_code == 200 and listed.get_json()[0]["display_name"] == "Erika Mustermann"


def test_publisher_adds_changes_and_removes_a_contact(client, make_org, token_for):
    entry_id = make_org()
    token = token_for("publisher", entry_id)
    etag = client.get(f"{API}/{entry_id}").headers["ETag"]
    added = client.post(f"{API}/{entry_id}/contacts", headers=auth(token, **{"If-Match": etag}),
                        json={"display_name": "Night desk", "kind": "role", "email": "night@telecom.example",
                              "emergency": True})
    assert added.status_code == 201
    contact_id = added.get_json()["contact_id"]
    assert added.get_json()["source"] == "manual"
    changed = client.patch(f"{API}/{entry_id}/contacts/{contact_id}", json={"title": "24/7 desk"},
                           headers=auth(token, **{"If-Match": added.headers["ETag"]}))
    assert changed.status_code == 200
    assert changed.get_json()["title"] == "24/7 desk" and changed.get_json()["emergency"] is True
    removed = client.delete(f"{API}/{entry_id}/contacts/{contact_id}",
                            headers=auth(token, **{"If-Match": changed.headers["ETag"]}))
    assert removed.status_code == 204
    assert client.get(f"{API}/{entry_id}").get_json()["version"] == 4


def test_other_publisher_cannot_add_contacts(client, make_org, token_for):
    entry_id, other = make_org(), make_org(name="Other")
    etag = client.get(f"{API}/{entry_id}").headers["ETag"]
    token = token_for("publisher", other)
    before = row_counts()
    response = client.post(f"{API}/{entry_id}/contacts",
                           headers=auth(token, **{"If-Match": etag}),
                           json={"display_name": "Mole", "email": "mole@evil.example"})
    assert response.status_code == 403
    assert row_counts() == before


def test_contact_server_fields_cannot_be_sent(client, make_org, token_for):
    entry_id = make_org()
    etag = client.get(f"{API}/{entry_id}").headers["ETag"]
    response = client.post(f"{API}/{entry_id}/contacts",
                           headers=auth(token_for("admin"), **{"If-Match": etag}),
                           json={"display_name": "X", "email": "x@telecom.example", "source": "ldap:corp"})
    assert response.status_code == 422 and "source" in response.get_json()["errors"]["json"]


def test_two_contacts_with_one_id_are_refused(client, make_org, token_for):
    entry_id = make_org()
    token = token_for("admin")
    etag = client.get(f"{API}/{entry_id}").headers["ETag"]
    twice = {"contact_id": "5b0b6a4e-7e36-4a51-9a57-2f1f0a3c1a11", "display_name": "A",
             "email": "a@telecom.example"}
    before = row_counts()
    response = client.patch(f"{API}/{entry_id}", headers=auth(token, **{"If-Match": etag}),
                            json={"contacts": [twice, {**twice, "display_name": "B"}]})
    assert response.status_code == 422, response.get_json()
    assert "contacts.1.contact_id" in response.get_json()["errors"]
    assert row_counts() == before


def test_a_contact_keeps_its_id(client, make_org, token_for):
    # The id was changed and committed, and the answer was a 404 for the old id.
    entry_id = make_org()
    token = token_for("admin")
    listed = client.get(f"{API}/{entry_id}/contacts", headers=auth(token))
    contact_id = listed.get_json()[0]["contact_id"]
    before = row_counts()
    response = client.patch(f"{API}/{entry_id}/contacts/{contact_id}",
                            json={"contact_id": "5b0b6a4e-7e36-4a51-9a57-2f1f0a3c1a11"},
                            headers=auth(token, **{"If-Match": listed.headers["ETag"]}))
    assert response.status_code == 422
    assert "contact_id" in response.get_json()["errors"]
    assert row_counts() == before
    after = client.get(f"{API}/{entry_id}/contacts", headers=auth(token)).get_json()
    assert after[0]["contact_id"] == contact_id
