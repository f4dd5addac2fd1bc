"""Publisher pages: edit the organisation and its contacts, re-confirm, add the organisation's signature."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator

import pytest
from flask.testing import FlaskClient

from directory import entries
from directory.models.entries import EntryVersion
from tests.conftest import row_counts
from tests.keys.conftest import Gpg, require_gpg
from tests.web.conftest import WebAccount, csrf_from, sign_in

EDIT = "/publish/organisations/{}/edit"


@pytest.fixture
def publisher(client: FlaskClient, make_org: Callable[..., str],
              web_account: Callable[..., WebAccount]) -> str:
    """A signed-in publisher of a new organisation; returns the organisation's id."""
    entry_id = make_org()
    sign_in(client, web_account("publisher", entry_id))
    return entry_id


def _form(client: FlaskClient, path: str) -> dict[str, str]:
    html = client.get(path).get_data(as_text=True)
    return {"csrf_token": csrf_from(html)}


def _versions(entry_id: str) -> int:
    return int(EntryVersion.select().where(EntryVersion.entry_id == entry_id).count())


def _org_fields(entry_id: str, **changes: str) -> dict[str, str]:
    doc = entries.get_document(entry_id)
    fields = {"name": doc["name"], "legal_name": "", "website": doc["website"],
              "switchboard_phone": doc["switchboard_phone"], "timezone": doc["timezone"],
              "official_email_domains": ", ".join(doc["official_email_domains"]),
              "languages": ", ".join(doc["languages"]), "domains": ", ".join(doc["domains"]),
              "description": "", "version": str(doc["version"])}
    fields.update(changes)
    return fields


def test_publisher_edits_and_a_new_version_appears(client: FlaskClient, publisher: str) -> None:
    path = EDIT.format(publisher)
    form = {**_form(client, path), **_org_fields(publisher, name="Example Telecom AG",
                                                 description="Requests by email, signed.")}
    response = client.post(path, data=form)
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved as version 2." in page and "Example Telecom AG" in page
    assert "Requests by email, signed." in page
    doc = entries.get_document(publisher)
    assert doc["version"] == 2 and doc["programme"]["description"] == "Requests by email, signed."
    # Posting the same form again is an edit of version 1 made after version 2: refused, nothing written.
    before = row_counts()
    stale = client.post(path, data={**form, "name": "Overwritten"})
    assert stale.status_code == 409 and "someone changed this entry" in stale.get_data(as_text=True)
    assert row_counts() == before and entries.get_document(publisher)["name"] == "Example Telecom AG"


def test_invalid_input_is_shown_next_to_the_field(client: FlaskClient, publisher: str) -> None:
    path = EDIT.format(publisher)
    response = client.post(path, data={**_form(client, path),
                                       **_org_fields(publisher, switchboard_phone="not a phone")})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'class="field invalid"' in html and _versions(publisher) == 1


def test_publisher_edits_contacts(client: FlaskClient, publisher: str) -> None:
    path = f"/publish/organisations/{publisher}/contacts"
    page = client.get(path).get_data(as_text=True)
    assert 'name="c0-types" type="checkbox" value="preservation" checked' in page
    form = {"csrf_token": csrf_from(page), "version": "1", "c0-display_name": "Erika Mustermann",
            "c0-title": "Head of liaison", "c0-email": "erika.mustermann@telecom.example",
            "c0-phones": "+49 30 901822", "c0-languages": "de, en",
            "c0-types": ["preservation", "traffic_data"], "c0-emergency": "1",
            "new-display_name": "Abuse desk", "new-email": "abuse@telecom.example", "new-languages": "en"}
    assert client.post(path, data=form).status_code == 303
    contacts = entries.get_document(publisher)["contacts"]
    assert [(c["display_name"], c.get("title")) for c in contacts] == [
        ("Erika Mustermann", "Head of liaison"), ("Abuse desk", None)]
    assert contacts[0]["languages"] == ["de", "en"] and contacts[0]["emergency"] is True
    assert contacts[0]["handles_request_types"] == ["preservation", "traffic_data"]
    form = {**_form(client, path), "version": "2", "c0-display_name": "Erika Mustermann",
            "c0-email": "erika.mustermann@telecom.example", "c0-remove": "1",
            "c1-display_name": "Abuse desk", "c1-email": "abuse@telecom.example"}
    assert client.post(path, data=form).status_code == 303
    assert [c["display_name"] for c in entries.get_document(publisher)["contacts"]] == ["Abuse desk"]


def test_reconfirm_writes_a_version_with_fresh_confirmation(client: FlaskClient, publisher: str,
                                                            clock: Callable[[float], None]) -> None:
    first = entries.get_document(publisher)
    clock(first["iat"] + 3600)
    token = csrf_from(client.get(f"/organisations/{publisher}").get_data(as_text=True))
    response = client.post(f"/publish/organisations/{publisher}/confirm",
                           data={"csrf_token": token, "version": "1"})
    assert response.status_code == 303
    doc = entries.get_document(publisher)
    assert doc["version"] == 2 and doc["confirmed_at"] == first["iat"] + 3600


def test_edit_without_csrf_token_is_refused(client: FlaskClient, publisher: str) -> None:
    before = row_counts()
    response = client.post(EDIT.format(publisher), data=_org_fields(publisher, name="No token"))
    assert response.status_code == 400 and row_counts() == before


def test_a_form_naming_no_possible_version_is_refused_with_a_page(client: FlaskClient,
                                                                  publisher: str) -> None:
    """The version field comes back from the browser: a number too large for a database integer (or
    none, or not a number) is the visitor's error, answered 422 on a page, not a 500."""
    token = csrf_from(client.get(f"/publish/organisations/{publisher}/signature").get_data(as_text=True))
    before = row_counts()
    forms = {"signature": {"signature": "x"}, "confirm": {}, "edit": _org_fields(publisher)}
    for version in (str(2**64), "-1", "0", "", "v1"):
        for action, extra in forms.items():
            response = client.post(f"/publish/organisations/{publisher}/{action}",
                                   data={**extra, "csrf_token": token, "version": version})
            assert response.status_code == 422 and response.mimetype == "text/html", (version, action)
    assert row_counts() == before


def test_publishers_edit_only_their_own_organisation(client: FlaskClient, publisher: str,
                                                     make_org: Callable[..., str]) -> None:
    other = make_org(name="Other Networks")
    assert client.get(EDIT.format(other)).status_code == 403
    token = csrf_from(client.get(EDIT.format(publisher)).get_data(as_text=True))
    response = client.post(EDIT.format(other), data={**_org_fields(other, name="Taken"), "csrf_token": token})
    assert response.status_code == 403 and _versions(other) == 1


def test_anonymous_visitors_are_asked_to_sign_in(client: FlaskClient, make_org: Callable[..., str]) -> None:
    entry_id = make_org()
    response = client.get(EDIT.format(entry_id))
    assert response.status_code == 401 and "Sign in" in response.get_data(as_text=True)


@pytest.fixture(scope="module")
def gpg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gpg]:
    require_gpg()
    home = Gpg(tmp_path_factory.mktemp("gpg-web"))
    home.org = home.gen_key("Example Telecom <pgp@telecom.example>", "ed25519", "sign,cert", "2y")
    yield home
    home.close()


@pytest.mark.gpg
def test_publisher_uploads_the_organisations_detached_signature(client: FlaskClient, publisher: str,
                                                                gpg: Gpg) -> None:
    key = gpg.export("pgp@telecom.example").decode()
    entries.update(publisher, {"keys": [{"public_key": key, "use": "organisation"}]}, _admin())
    path = f"/publish/organisations/{publisher}/signature"
    page = client.get(path).get_data(as_text=True)
    with client.get(f"/publish/organisations/{publisher}/versions/2/payload") as download:
        data = download.data
    assert data == bytes(EntryVersion.get((EntryVersion.entry_id == publisher) &
                                          (EntryVersion.version == 2)).payload)
    refused = client.post(path, data={"csrf_token": csrf_from(page), "version": "2",
                                      "signature": gpg.detach_sign(gpg.org, data + b" ").decode()})
    assert refused.status_code == 422 and "signature refused" in refused.get_data(as_text=True)
    signature = gpg.detach_sign(gpg.org, data).decode()
    response = client.post(path, data={"csrf_token": csrf_from(page), "version": "2", "signature": signature})
    assert response.status_code == 303
    html = client.get(f"/organisations/{publisher}").get_data(as_text=True)
    assert "Signed by the organisation" in html and gpg.org in html
    stored = json.loads(EntryVersion.get((EntryVersion.entry_id == publisher) &
                                         (EntryVersion.version == 2)).signatures)
    assert [s["key_fpr"] for s in stored][1] == gpg.org


def _admin():  # type: ignore[no-untyped-def]
    from tests.conftest import ADMIN

    return ADMIN


def test_call_back_changes_wait_for_a_second_admin(client: FlaskClient, publisher: str,
                                                   web_account: Callable[..., WebAccount]) -> None:
    from directory import runtime

    runtime.settings()["CALLBACK_APPROVAL"] = True  # the production default; the test settings turn it off
    path = EDIT.format(publisher)
    form = {**_form(client, path), **_org_fields(publisher, switchboard_phone="+49 30 555 0000")}
    response = client.post(path, data=form)
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "waits for a second administrator" in page and "switchboard_phone" in page
    assert _versions(publisher) == 1
    sign_in(client, web_account("admin"))
    listing = client.get("/admin/approvals").get_data(as_text=True)
    assert "switchboard_phone" in listing and "+49305550000" in listing
    change = re.search(r'action="/admin/approvals/(\d+)/approve"', listing)
    assert change is not None
    decided = client.post(f"/admin/approvals/{change.group(1)}/approve",
                          data={"csrf_token": csrf_from(listing)})
    assert decided.status_code == 303
    done = client.get("/admin/approvals").get_data(as_text=True)
    assert f"Change {change.group(1)} approved: version 2." in done
    assert entries.get_document(publisher)["switchboard_phone"] == "+49305550000"
