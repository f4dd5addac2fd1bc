"""Accounts, roles and API tokens.

Tokens are 256-bit random strings shown once; only their sha256 is stored (a high-entropy token needs no
slow hash, and lookup stays one indexed read). Passwords (web sign-in) are argon2 hashes.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import peewee
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from directory import audit, db, runtime, validators
from directory.actors import ROLES, Actor
from directory.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from directory.models.accounts import Account, AccountOrganisation, ApiToken, WebSession
from directory.models.entries import Organisation
from directory.paging import Page, paginate

TOKEN_PREFIX = "cpd_"  # noqa: S105 - a public prefix that makes leaked tokens greppable, not a secret
_hasher = PasswordHasher()


@dataclass(frozen=True)
class NewAccount:
    account_id: int
    name: str
    role: str
    token: str
    email: str | None = None


def digest(secret: str) -> str:
    """What is stored of a bearer secret (an API token, a web session id): its sha256, so the tables
    alone give nothing to replay."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create(name: str, role: str, organisations: list[str], by: Actor, email: str | None = None) -> NewAccount:
    """A new account with one API token; publishers must be bound to at least one organisation.

    `email` is where reminders and alerts for this account go (notifications); optional.
    """
    if email is not None:
        try:
            email = validators.email(email)
        except ValueError as exc:
            raise InvalidInput("not a usable email address", {"email": [str(exc)]}) from None
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", {"role": ["unknown role"]})
    # Errors name the API's field (`organisations`; the CLI's option is `--org`).
    if role == "publisher" and not organisations:
        raise InvalidInput("a publisher needs at least one organisation", {"organisations": ["required"]})
    if role != "publisher" and organisations:
        raise InvalidInput("only publishers are bound to organisations",
                           {"organisations": ["only for publishers"]})
    if len(set(organisations)) != len(organisations):
        # Each binding is one row under a unique key: a repeated id was a 500.
        raise InvalidInput("an organisation is listed twice", {"organisations": ["listed twice"]})
    with db.write():
        if Account.get_or_none(Account.name == name) is not None:
            raise Conflict(f"an account named {name!r} exists")
        for entry_id in organisations:
            if Organisation.get_or_none(Organisation.entry_id == entry_id) is None:
                raise NotFound(f"no organisation {entry_id}")
        try:
            account = Account.create(name=name, role=role, created_at=runtime.now(), email=email)
        except peewee.IntegrityError:
            # Another request created the name since the check above; the unique key decides, and the
            # transaction (aborted on PostgreSQL) is rolled back as the Conflict leaves it.
            raise Conflict(f"an account named {name!r} exists") from None
        for entry_id in organisations:
            AccountOrganisation.create(account=account, entry_id=entry_id)
        token = issue_token(account)
        audit.record(by, "account.create", f"account:{account.id}", "ok", {"role": role})
    return NewAccount(account.id, name, role, token, email)


def issue_token(account: Account) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    days = int(runtime.settings()["TOKEN_DAYS"])
    ApiToken.create(account=account, token_hash=digest(token), created_at=runtime.now(),
                    expires_at=runtime.now() + days * 86400)
    return token


def actor_for(account: Account, client: str | None = None) -> Actor:
    orgs = frozenset(row.entry_id for row in
                     AccountOrganisation.select().where(AccountOrganisation.account == account.id))
    return Actor("account", account.name, account.role, account.id, orgs, client)


def authenticate(token: str, client: str | None = None) -> Actor:
    """The actor behind a bearer token; any unknown, revoked or expired token is refused alike.

    One statement (token, account and its organisations), since it runs on every API request.
    """
    found = db.rows(
        "SELECT t.revoked, t.expires_at, a.disabled, a.id, a.name, a.role, o.entry_id FROM api_token t"
        " JOIN account a ON a.id = t.account_id"
        " LEFT JOIN account_organisation o ON o.account_id = a.id WHERE t.token_hash = ?", (digest(token),))
    if not found:
        raise Unauthenticated("invalid or expired token")
    revoked, expires_at, disabled, account_id, name, role, _ = found[0]
    if revoked or disabled or expires_at <= runtime.now():
        raise Unauthenticated("invalid or expired token")
    orgs = frozenset(entry_id for *_, entry_id in found if entry_id is not None)
    return Actor("account", name, role, account_id, orgs, client)


def revoke_tokens(account_id: int, by: Actor) -> int:
    with db.write():
        _exists(account_id)
        count = int(ApiToken.update(revoked=True).where(ApiToken.account == account_id).execute())
        audit.record(by, "account.revoke_tokens", f"account:{account_id}", "ok", {"tokens": count})
    return count


def set_password(account_id: int, password: str, by: Actor) -> None:
    """A new web sign-in password; the account's web sessions end (signed in with the old one)."""
    if len(password) < 12:
        raise InvalidInput("passwords have at least 12 characters", {"password": ["too short"]})
    with db.write():
        _exists(account_id)
        Account.update(password_hash=_hasher.hash(password)).where(Account.id == account_id).execute()
        WebSession.delete().where(WebSession.account == account_id).execute()
        audit.record(by, "account.set_password", f"account:{account_id}", "ok", {})


def set_disabled(account_id: int, disabled: bool, by: Actor) -> None:
    """Disable an account, or enable it again. Disabled, its API tokens and web sessions stop working at
    once, and its web sessions are deleted: enabling it again does not revive a session that someone
    else may hold. Its tokens work again unless revoked (`revoke_tokens`), for an account that was only
    suspended; revoke them too when the account was compromised."""
    if disabled and account_id == by.account_id:
        # The node's last administrator could lock everyone out; another admin or the CLI can do it.
        raise Conflict("an administrator cannot disable their own account")
    with db.write():
        _exists(account_id)
        Account.update(disabled=disabled).where(Account.id == account_id).execute()
        if disabled:
            WebSession.delete().where(WebSession.account == account_id).execute()
        audit.record(by, "account.disable" if disabled else "account.enable", f"account:{account_id}",
                     "ok", {})


def _exists(account_id: int) -> None:
    if not Account.select().where(Account.id == account_id).exists():
        raise NotFound(f"no account {account_id}")


def check_password(account: Account, password: str) -> bool:
    if not account.password_hash:
        # Spend the same time as a real check, so timing does not reveal which accounts exist.
        _hasher.hash(password)
        return False
    try:
        return bool(_hasher.verify(account.password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def list_accounts(page: int = 1, per_page: int | None = None) -> Page:
    return paginate(Account.select().order_by(Account.id), page, per_page, _described)


def describe(account_id: int) -> dict[str, Any]:
    account = Account.get_or_none(Account.id == account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    return _described(account)


def _described(a: Account) -> dict[str, Any]:
    return {"id": a.id, "name": a.name, "role": a.role, "disabled": a.disabled, "email": a.email,
            "organisations": [o.entry_id for o in
                              AccountOrganisation.select().where(AccountOrganisation.account == a.id)]}
