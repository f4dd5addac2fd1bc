"""Second-admin approval of call-back changes: stored instead of applied, applied by a different admin
onto the version it was requested against, refused when the entry moved on; system actors exempt."""

from __future__ import annotations

import json
from typing import Any

import pytest

from directory import entries
from directory.actors import Actor
from directory.models.approvals import PendingChange
from directory.models.audit import AuditEvent
from directory.models.outbox import Outbox
from tests.conftest import auth, row_counts

API = "/api/v1/organisations"


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    return {**settings, "CALLBACK_APPROVAL": True}


def _etag(client, entry_id: str) -> str:
    return client.get(f"{API}/{entry_id}").headers["ETag"]


def _request_switchboard(client, entry_id: str, token: str, phone: str = "+49 30 555000"):
    return client.patch(f"{API}/{entry_id}", json={"switchboard_phone": phone},
                        headers=auth(token, **{"If-Match": _etag(client, entry_id)}))


def test_publisher_change_of_switchboard_waits_and_a_second_admin_applies_it(client, make_org, token_for):
    entry_id = make_org()
    publisher = token_for("publisher", entry_id)
    answer = _request_switchboard(client, entry_id, publisher)
    assert answer.status_code == 202, answer.get_json()
    pending = answer.get_json()
    assert pending["fields"] == ["switchboard_phone"] and pending["status"] == "pending"
    assert answer.headers["Location"] == f"/api/v1/approvals/{pending['id']}"
    current = client.get(f"{API}/{entry_id}").get_json()
    assert current["version"] == 1 and current["switchboard_phone"] == "+4930901820"
    # The previous owners (here the entry's contacts: no publisher has an email) hear of the request.
    told = [o for o in Outbox.select() if o.dedupe_key == f"approval:{pending['id']}:owners"]
    assert told and "erika.mustermann@telecom.example" in told[0].recipients

    admin = token_for("admin")
    listed = client.get("/api/v1/approvals", headers=auth(admin)).get_json()["items"]
    assert [c["id"] for c in listed] == [pending["id"]]
    approved = client.post(f"/api/v1/approvals/{pending['id']}/approve", headers=auth(admin))
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["status"] == "approved" and approved.get_json()["applied_version"] == 2
    after = client.get(f"{API}/{entry_id}").get_json()
    assert after["version"] == 2 and after["switchboard_phone"] == "+4930555000"
    actions = [e.action for e in AuditEvent.select().order_by(AuditEvent.seq)]
    assert "approval.request" in actions and "approval.approve" in actions
    assert client.get("/api/v1/approvals", headers=auth(admin)).get_json()["items"] == []


def test_the_requesting_admin_cannot_approve_their_own_change(client, make_org, token_for):
    entry_id = make_org()
    admin = token_for("admin")
    pending = _request_switchboard(client, entry_id, admin).get_json()
    before = row_counts()
    refused = client.post(f"/api/v1/approvals/{pending['id']}/approve", headers=auth(admin))
    assert refused.status_code == 403
    assert row_counts() == before
    assert PendingChange.get_by_id(pending["id"]).status == "pending"


def test_publishers_and_readers_cannot_decide(client, make_org, token_for):
    entry_id = make_org()
    publisher = token_for("publisher", entry_id)
    pending = _request_switchboard(client, entry_id, publisher).get_json()
    for token in (publisher, token_for("reader"), token_for("publisher", make_org(name="Other"))):
        approve = f"/api/v1/approvals/{pending['id']}/approve"
        assert client.post(approve, headers=auth(token)).status_code == 403
        assert client.post(f"/api/v1/approvals/{pending['id']}/reject", headers=auth(token),
                           json={}).status_code == 403
        assert client.get("/api/v1/approvals", headers=auth(token)).status_code == 403
    assert client.get("/api/v1/approvals").status_code == 401


def test_approval_is_refused_when_the_entry_moved_on(client, make_org, token_for):
    entry_id = make_org()
    publisher = token_for("publisher", entry_id)
    pending = _request_switchboard(client, entry_id, publisher).get_json()
    moved = client.patch(f"{API}/{entry_id}", json={"name": "Example Telecom AG"},
                         headers=auth(publisher, **{"If-Match": _etag(client, entry_id)}))
    assert moved.status_code == 200  # not a call-back change: applied at once
    refused = client.post(f"/api/v1/approvals/{pending['id']}/approve", headers=auth(token_for("admin")))
    assert refused.status_code == 409 and "resubmit" in refused.get_json()["message"]
    assert PendingChange.get_by_id(pending["id"]).status == "superseded"
    current = client.get(f"{API}/{entry_id}").get_json()
    assert current["version"] == 2 and current["switchboard_phone"] == "+4930901820"


def test_rejected_change_is_never_applied(client, make_org, token_for):
    entry_id = make_org()
    pending = _request_switchboard(client, entry_id, token_for("admin")).get_json()
    admin = token_for("admin")
    rejected = client.post(f"/api/v1/approvals/{pending['id']}/reject", headers=auth(admin),
                           json={"note": "not requested by the ISP"})
    assert rejected.status_code == 200 and rejected.get_json()["status"] == "rejected"
    assert client.post(f"/api/v1/approvals/{pending['id']}/approve", headers=auth(admin)).status_code == 409
    assert client.get(f"{API}/{entry_id}").get_json()["version"] == 1


def test_contact_email_change_waits(client, make_org, token_for):
    entry_id = make_org()
    publisher = token_for("publisher", entry_id)
    contact = client.get(f"{API}/{entry_id}/contacts", headers=auth(publisher)).get_json()[0]
    answer = client.patch(f"{API}/{entry_id}/contacts/{contact['contact_id']}",
                          json={"email": "liaison@telecom.example"},
                          headers=auth(publisher, **{"If-Match": _etag(client, entry_id)}))
    assert answer.status_code == 202
    assert answer.get_json()["fields"] == [f"contacts.{contact['contact_id']}.email"]
    title = client.patch(f"{API}/{entry_id}/contacts/{contact['contact_id']}", json={"title": "Liaison"},
                         headers=auth(publisher, **{"If-Match": _etag(client, entry_id)}))
    assert title.status_code == 200


def test_domains_change_waits_but_other_fields_do_not(client, make_org, token_for):
    entry_id = make_org()
    admin = token_for("admin")
    answer = client.patch(f"{API}/{entry_id}", json={"official_email_domains": ["evil.example"]},
                          headers=auth(admin, **{"If-Match": _etag(client, entry_id)}))
    assert answer.status_code == 202 and answer.get_json()["fields"] == ["official_email_domains"]
    same = client.patch(f"{API}/{entry_id}", json={"switchboard_phone": "+49 30 901820"},
                        headers=auth(admin, **{"If-Match": _etag(client, entry_id)}))
    assert same.status_code == 200  # the same number again changes nothing on the call-back path


def test_refused_requests_store_no_pending_change(client, make_org, token_for):
    entry_id = make_org()
    other = token_for("publisher", make_org(name="Other"))
    before = row_counts()
    assert _request_switchboard(client, entry_id, other).status_code == 403
    stale = client.patch(f"{API}/{entry_id}", json={"switchboard_phone": "+49 30 555000"},
                         headers=auth(token_for("admin"), **{"If-Match": '"0000"'}))
    assert stale.status_code == 412
    invalid = client.patch(f"{API}/{entry_id}", json={"keys": [{"public_key": "not a key"}]},
                           headers=auth(token_for("admin"), **{"If-Match": _etag(client, entry_id)}))
    assert invalid.status_code == 422
    after = row_counts()
    assert after["PendingChange"] == before["PendingChange"] == 0
    assert after["EntryVersion"] == before["EntryVersion"]


def test_system_actors_are_exempt(app, make_org):
    entry_id = make_org()
    info = entries.update(entry_id, {"switchboard_phone": "+49 30 555000"}, Actor.system("ldap-sync:corp"))
    assert info.version == 2 and PendingChange.select().count() == 0


def test_approval_can_be_switched_off(client, make_org, token_for):
    from directory import runtime

    runtime.configure({**runtime.settings(), "CALLBACK_APPROVAL": False})
    entry_id = make_org()
    assert _request_switchboard(client, entry_id, token_for("admin")).status_code == 200


def test_listing_pending_contact_changes_is_an_audited_read(client, make_org, token_for):
    # A pending contact change carries the organisation's contacts (names, emails, phones): reading them
    # through the list is a restricted read like reading the entry, and must leave an audit row.
    entry_id = make_org()
    publisher, admin = token_for("publisher", entry_id), token_for("admin")
    contact_id = client.get(f"{API}/{entry_id}/contacts", headers=auth(publisher)).get_json()[0]["contact_id"]
    client.patch(f"{API}/{entry_id}/contacts/{contact_id}", json={"email": "new@telecom.example"},
                 headers=auth(publisher, **{"If-Match": _etag(client, entry_id)}))
    before = AuditEvent.select().where(AuditEvent.action == "read.approvals").count()
    listed = client.get("/api/v1/approvals", headers=auth(admin)).get_json()
    assert "Erika Mustermann" in str(listed) and "+4930901822" in str(listed)
    assert AuditEvent.select().where(AuditEvent.action == "read.approvals").count() == before + 1


def test_the_location_of_a_pending_change_answers(client, make_org, token_for):
    # The 202 named /api/v1/approvals/<id>, a route that did not exist (404 for everyone).
    entry_id = make_org()
    publisher, admin = token_for("publisher", entry_id), token_for("admin")
    location = _request_switchboard(client, entry_id, publisher).headers["Location"]
    shown = client.get(location, headers=auth(admin))
    assert shown.status_code == 200 and shown.get_json()["fields"] == ["switchboard_phone"]
    assert client.get(location, headers=auth(publisher)).status_code == 403
    assert client.get("/api/v1/approvals/999", headers=auth(admin)).status_code == 404


def test_changes_are_listed_a_page_at_a_time_and_each_page_is_audited(client, make_org, token_for):
    # Decided changes accumulate for as long as the node runs: the listing answered all of them at once.
    requester, admin = token_for("admin"), token_for("admin")
    ids = [_request_switchboard(client, make_org(name=f"Telecom {n}"), requester).get_json()["id"]
           for n in range(3)]
    first = client.get("/api/v1/approvals?per_page=2", headers=auth(admin)).get_json()
    second = client.get("/api/v1/approvals?per_page=2&page=2", headers=auth(admin)).get_json()

    assert (first["total"], first["page"], first["per_page"]) == (3, 1, 2)
    assert [c["id"] for c in first["items"] + second["items"]] == ids
    counted = [json.loads(e.details)["count"] for e in
               AuditEvent.select().where(AuditEvent.action == "read.approvals").order_by(AuditEvent.seq)]
    assert counted == [2, 1]
    too_big = client.get("/api/v1/approvals?per_page=100000", headers=auth(admin))
    assert too_big.status_code == 422 and "per_page" in str(too_big.get_json())
