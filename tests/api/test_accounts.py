"""/api/v1/accounts: an account's notification address is set at creation and validated."""

from __future__ import annotations

from typing import Any

from directory.models.accounts import Account
from directory.models.audit import AuditEvent
from tests.conftest import auth, row_counts


def test_an_account_is_created_with_its_notification_address(client: Any, token_for: Any) -> None:
    admin = token_for("admin")
    created = client.post("/api/v1/accounts", headers=auth(admin),
                          json={"name": "desk-lead", "role": "reader", "email": "Desk.Lead@Police.example"})
    assert created.status_code == 201, created.json
    # The domain is normalised (compared case-insensitively everywhere); the local part keeps its case.
    assert created.json["email"] == "Desk.Lead@police.example"
    assert Account.get(Account.name == "desk-lead").email == "Desk.Lead@police.example"
    listed = {a["name"]: a for a in client.get("/api/v1/accounts", headers=auth(admin)).json["items"]}
    assert listed["desk-lead"]["email"] == "Desk.Lead@police.example"
    assert "token" not in listed["desk-lead"]


def test_an_unusable_address_is_refused_and_nothing_is_stored(client: Any, token_for: Any) -> None:
    admin = token_for("admin")
    before = row_counts()
    for bad in ("not an address", "a@b", "x" * 400 + "@police.example", 42):
        answer = client.post("/api/v1/accounts", headers=auth(admin),
                             json={"name": "ghost", "role": "reader", "email": bad})
        assert answer.status_code == 422, (bad, answer.json)
        assert "email" in str(answer.json["errors"]), answer.json
    assert row_counts() == before


def test_without_an_address_the_account_has_none(client: Any, token_for: Any) -> None:
    created = client.post("/api/v1/accounts", headers=auth(token_for("admin")),
                          json={"name": "plain", "role": "reader"})
    assert created.status_code == 201 and created.json["email"] is None


def test_an_organisation_named_twice_is_refused_not_a_500(client: Any, token_for: Any, make_org: Any) -> None:
    entry_id = make_org()
    admin = token_for("admin")
    before = row_counts()
    answer = client.post("/api/v1/accounts", headers=auth(admin),
                         json={"name": "twice", "role": "publisher", "organisations": [entry_id, entry_id]})
    assert answer.status_code == 422, answer.json
    assert "organisations" in answer.json["errors"]
    assert row_counts() == before


def _me(client: Any, token: str) -> Any:
    return client.get("/api/v1/me", headers=auth(token))


def test_an_administrator_disables_and_enables_an_account(client: Any, token_for: Any) -> None:
    """An officer who leaves, or a token that leaked: the account stops at once, and comes back."""
    admin, reader = token_for("admin"), token_for("reader")
    reader_id = _me(client, reader).json["id"]
    disabled = client.patch(f"/api/v1/accounts/{reader_id}", headers=auth(admin), json={"disabled": True})
    assert disabled.status_code == 200 and disabled.json["disabled"] is True, disabled.json
    assert _me(client, reader).status_code == 401
    assert client.patch(f"/api/v1/accounts/{reader_id}", headers=auth(admin),
                        json={"disabled": False}).json["disabled"] is False
    assert _me(client, reader).status_code == 200
    actions = [e.action for e in AuditEvent.select().where(AuditEvent.target == f"account:{reader_id}")
               .order_by(AuditEvent.seq)]
    assert actions == ["account.create", "account.disable", "account.enable"]


def test_only_administrators_disable_accounts_and_bad_requests_change_nothing(
        client: Any, token_for: Any, make_org: Any) -> None:
    admin, reader, publisher = token_for("admin"), token_for("reader"), token_for("publisher", make_org())
    admin_id, reader_id = _me(client, admin).json["id"], _me(client, reader).json["id"]
    before = row_counts()
    for token in (reader, publisher):
        answer = client.patch(f"/api/v1/accounts/{admin_id}", headers=auth(token), json={"disabled": True})
        assert answer.status_code == 403, answer.json
    assert client.patch(f"/api/v1/accounts/{admin_id}", json={"disabled": True}).status_code == 401
    for body in ({}, {"disabled": "yes please"}, {"disabled": True, "role": "admin"}, []):
        answer = client.patch(f"/api/v1/accounts/{reader_id}", headers=auth(admin), json=body)
        assert answer.status_code == 422, (body, answer.json)
    assert client.patch("/api/v1/accounts/999999", headers=auth(admin),
                        json={"disabled": True}).status_code == 404
    # Disabling oneself could leave the node without an administrator.
    own = client.patch(f"/api/v1/accounts/{admin_id}", headers=auth(admin), json={"disabled": True})
    assert own.status_code == 409, own.json
    assert row_counts() == before
    assert not Account.get_by_id(admin_id).disabled and not Account.get_by_id(reader_id).disabled


def test_a_name_taken_by_a_concurrent_request_is_a_conflict_not_a_500(
        client: Any, token_for: Any, monkeypatch: Any) -> None:
    """Two requests creating one name: both pass the check for an existing name, the unique key refuses
    the second insert. Simulated by letting the check miss the account the first request made."""
    admin = token_for("admin")
    assert client.post("/api/v1/accounts", headers=auth(admin),
                       json={"name": "twin", "role": "reader"}).status_code == 201
    before = row_counts()
    monkeypatch.setattr(Account, "get_or_none", classmethod(lambda cls, *_a, **_k: None))
    second = client.post("/api/v1/accounts", headers=auth(admin), json={"name": "twin", "role": "reader"})
    assert second.status_code == 409, second.json
    assert row_counts() == before


def test_accounts_are_listed_a_page_at_a_time(client: Any, token_for: Any) -> None:
    # DESIGN.md: page size capped on every list; the listing used to answer every account at once.
    admin = token_for("admin")
    for n in range(3):
        assert client.post("/api/v1/accounts", headers=auth(admin),
                           json={"name": f"desk-{n}", "role": "reader"}).status_code == 201
    first = client.get("/api/v1/accounts?per_page=2", headers=auth(admin)).json
    second = client.get("/api/v1/accounts?per_page=2&page=2", headers=auth(admin)).json

    assert (first["total"], first["page"], first["per_page"], len(first["items"])) == (4, 1, 2, 2)
    assert [a["id"] for a in first["items"] + second["items"]] == sorted(a.id for a in Account.select())
    too_big = client.get("/api/v1/accounts?per_page=100000", headers=auth(admin))
    assert too_big.status_code == 422 and "per_page" in str(too_big.json)
