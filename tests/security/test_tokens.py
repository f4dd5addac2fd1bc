"""Bearer tokens: expired, revoked, disabled, unknown or client-chosen tokens are all a plain 401."""

from __future__ import annotations

from typing import Any

from directory import accounts, runtime
from directory.actors import Actor
from directory.models.accounts import Account
from tests.conftest import auth


def test_expired_token_is_401(client: Any, token_for: Any, clock: Any) -> None:
    token = token_for("reader")
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 200
    clock(runtime.now() + int(runtime.settings()["TOKEN_DAYS"]) * 86400 + 1)
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 401


def test_revoked_and_disabled_tokens_are_401(client: Any, app: Any) -> None:
    new = accounts.create("revoked-one", "admin", [], Actor.system("test"))
    assert client.get("/api/v1/accounts", headers=auth(new.token)).status_code == 200
    accounts.revoke_tokens(new.account_id, Actor.system("test"))
    assert client.get("/api/v1/accounts", headers=auth(new.token)).status_code == 401
    other = accounts.create("disabled-one", "reader", [], Actor.system("test"))
    Account.update(disabled=True).where(Account.id == other.account_id).execute()
    assert client.get("/api/v1/me", headers=auth(other.token)).status_code == 401


def test_client_chosen_and_malformed_tokens_are_401(client: Any, token_for: Any) -> None:
    real = token_for("reader")
    for header in (f"Bearer {real}x", f"Bearer {real[:-1]}", "Bearer cpd_chosen-by-the-client",
                   f"Basic {real}", "Bearer", f"bearer  {real} extra", "Bearer \u00e9\u00e9"):
        response = client.get("/api/v1/me", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.get_json()["message"] in {"invalid or expired token",
                                                  "use `Authorization: Bearer <token>`"}


def test_tokens_are_unique_and_stored_hashed(app: Any) -> None:
    from directory.models.accounts import ApiToken

    tokens = {accounts.create(f"u{n}", "reader", [], Actor.system("test")).token for n in range(5)}
    assert len(tokens) == 5
    stored = {row.token_hash for row in ApiToken.select()}
    assert not tokens & stored
