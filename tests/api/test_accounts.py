"""/api/v1/accounts: an account's notification address is set at creation and validated."""

from __future__ import annotations

from typing import Any

from directory.models.accounts import Account
from tests.conftest import auth, row_counts


def test_an_account_is_created_with_its_notification_address(client: Any, token_for: Any) -> None:
    admin = token_for("admin")
    created = client.post("/api/v1/accounts", headers=auth(admin),
                          json={"name": "desk-lead", "role": "reader", "email": "Desk.Lead@Police.example"})
    assert created.status_code == 201, created.json
    # The domain is normalised (compared case-insensitively everywhere); the local part keeps its case.
    assert created.json["email"] == "Desk.Lead@police.example"
    assert Account.get(Account.name == "desk-lead").email == "Desk.Lead@police.example"
    listed = {a["name"]: a for a in client.get("/api/v1/accounts", headers=auth(admin)).json}
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
