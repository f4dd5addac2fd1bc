"""Web fixtures: accounts with a password (and TOTP), signing in through the form, CSRF tokens from pages."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from directory import accounts, runtime
from directory.models.accounts import Account
from directory.web import signin
from tests.conftest import ADMIN

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class WebAccount:
    account_id: int
    name: str
    password: str
    totp_secret: str | None

    def code(self) -> str:
        assert self.totp_secret is not None
        return pyotp.TOTP(self.totp_secret).at(runtime.now())


@pytest.fixture
def web_account(app: Flask) -> Callable[..., WebAccount]:
    """`web_account("publisher", org_id)`: an account with a password; TOTP for publishers and admins."""

    def make(role: str, *orgs: str, totp: bool | None = None) -> WebAccount:
        name = f"{role}-{uuid.uuid4().hex[:8]}"
        new = accounts.create(name, role, list(orgs), ADMIN)
        accounts.set_password(new.account_id, PASSWORD, ADMIN)
        secret = None
        if totp if totp is not None else role in signin.TOTP_ROLES:
            secret = signin.enable_totp(new.account_id, ADMIN)
        return WebAccount(new.account_id, name, PASSWORD, secret)

    return make


def csrf_from(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: FlaskClient, account: WebAccount, code: str | None = None) -> None:
    token = csrf_from(client.get("/sign-in").get_data(as_text=True))
    if code is None:
        code = account.code() if account.totp_secret else ""
    response = client.post("/sign-in", data={"name": account.name, "password": account.password,
                                             "code": code, "csrf_token": token})
    assert response.status_code == 303, response.get_data(as_text=True)


def locked(account: WebAccount) -> bool:
    return bool(Account.get_by_id(account.account_id).locked_until > runtime.now())
