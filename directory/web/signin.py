"""Web sign-in: password (argon2) and TOTP, lockout after repeated failures, no account enumeration.

Plain Python (no Flask): the web views call `sign_in` and keep only the account id in the session.
Every failure looks the same to the visitor — unknown name, wrong password, wrong or missing code,
disabled or locked account — and costs the same argon2 work, so the answer reveals nothing about which
accounts exist. Publishers and admins must use TOTP (DESIGN.md: Accounts); readers may add it.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

import pyotp

from directory import accounts, audit, db, runtime
from directory.actors import Actor
from directory.errors import NotFound, Unauthenticated
from directory.models.accounts import Account, WebSession

TOTP_ROLES = frozenset({"publisher", "admin"})
FAILED = "Sign-in failed: check the name, password and code. Repeated failures lock the account for a while."


@dataclass(frozen=True)
class SignedIn:
    actor: Actor
    # Names the session's row. Signing out deletes it (`end`); so do a new password, a new TOTP secret
    # and disabling the account, for every session of the account.
    session_id: str


def lock_after() -> int:
    """Failed attempts in a row that lock an account (DIRECTORY_SIGNIN_LOCK_AFTER)."""
    return int(runtime.settings()["SIGNIN_LOCK_AFTER"])


def session_seconds() -> int:
    """The longest a signed-in session lasts (DIRECTORY_SESSION_HOURS)."""
    return int(runtime.settings()["SESSION_HOURS"]) * 3600


def needs_totp(account: Account) -> bool:
    return account.role in TOTP_ROLES or bool(account.totp_secret)


def sign_in(name: str, password: str, code: str, client: str | None) -> SignedIn:
    """The signed-in actor, or Unauthenticated with one message for every kind of failure."""
    account = Account.get_or_none(Account.name == name.strip()) if name.strip() else None
    now = runtime.now()
    if account is None or account.disabled or account.locked_until > now:
        accounts.check_password(Account(password_hash=None), password)  # same argon2 cost as a real try
        audit.record(Actor.anonymous(client), "signin", f"account:{account.id}" if account else None,
                     "refused", {"why": "unknown" if account is None else "disabled_or_locked"})
        raise Unauthenticated(FAILED)
    ok = accounts.check_password(account, password)
    step: int | None = None
    if ok and needs_totp(account):
        step = _totp_step(account.totp_secret, code, now) if account.totp_secret else None
        ok = step is not None
    with db.write():
        # Attempts check passwords in parallel (argon2 is slow), so the lock and the failure count are
        # read again under the write lock: an attempt overtaken by failures that locked the account is
        # refused, and never writes back the count or lock it read before them (which unlocked it).
        current = _for_update(account)
        ok = ok and current.locked_until <= now
        if ok and step is not None:
            # Each code signs in once: a code seen over someone's shoulder, or replayed from a captured
            # form, is refused even inside its 90-second window. Claimed in the write transaction, so
            # two simultaneous sign-ins with one code cannot both win.
            ok = Account.update(totp_last_step=step).where(
                (Account.id == account.id) & (Account.totp_last_step < step)).execute() == 1
        if not ok:
            failures = current.failed_logins + 1
            lock = failures >= lock_after()
            locked = now + runtime.settings()["SIGNIN_LOCK_MINUTES"] * 60 if lock else current.locked_until
            Account.update(failed_logins=0 if lock else failures,
                           locked_until=locked).where(Account.id == account.id).execute()
            audit.record(Actor.anonymous(client), "signin", f"account:{account.id}", "failed",
                         {"locked": lock})
        else:
            Account.update(failed_logins=0).where(Account.id == account.id).execute()
            session_id = secrets.token_urlsafe(32)
            # Sessions past their length are worth nothing: they go when anyone signs in.
            WebSession.delete().where(WebSession.created_at <= now - session_seconds()).execute()
            WebSession.create(id_hash=accounts.digest(session_id), account=account.id, created_at=now)
            audit.record(accounts.actor_for(account, client), "signin", f"account:{account.id}", "ok", {})
    if not ok:
        raise Unauthenticated(FAILED)
    return SignedIn(accounts.actor_for(account, client), session_id)


def end(session_id: str, actor: Actor) -> None:
    """Sign out: the session's row goes, so the cookie (and any copy of it) no longer signs anyone in.
    The account's other sessions (another browser) stay."""
    with db.write():
        ended = WebSession.delete().where(WebSession.id_hash == accounts.digest(session_id)).execute()
        if ended and actor.account_id is not None:
            audit.record(actor, "signout", f"account:{actor.account_id}", "ok", {})


def _for_update(account: Account) -> Account:
    """The account's lock state as committed now, the row locked until the transaction ends."""
    query = Account.select(Account.failed_logins, Account.locked_until).where(Account.id == account.id)
    current: Account | None = db.for_update(query).first()
    return current or account


def _totp_step(secret: str, code: str, now: int) -> int | None:
    """The time step whose code was entered, or None; one step either side absorbs clock drift."""
    digits = "".join(ch for ch in code if ch.isdigit())
    if len(digits) != 6:
        return None
    totp = pyotp.TOTP(secret)
    current = now // totp.interval
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), digits):
            return step
    return None


def session_actor(account_id: int, session_id: str, client: str | None) -> Actor | None:
    """The actor of a session cookie, or None when the session is no longer good: signed out, past its
    length, or its account disabled or given new credentials."""
    account = (Account.select(Account, WebSession.created_at.alias("signed_in_at")).join(WebSession)
               .where((Account.id == account_id) & (WebSession.id_hash == accounts.digest(session_id)))
               .objects().first())
    if account is None or account.disabled:
        return None
    if not 0 <= runtime.now() - account.signed_in_at < session_seconds():
        return None
    return accounts.actor_for(account, client)


def enable_totp(account_id: int, by: Actor) -> str:
    """A new TOTP secret for an account (printed once by the CLI); replaces any previous one."""
    secret = pyotp.random_base32()
    with db.write():
        if Account.update(totp_secret=secret).where(Account.id == account_id).execute() != 1:
            raise NotFound(f"no account {account_id}")
        # The old second factor was lost or exposed: sessions signed in with it end.
        WebSession.delete().where(WebSession.account == account_id).execute()
        audit.record(by, "account.enable_totp", f"account:{account_id}", "ok", {})
    return secret


def provisioning_uri(account_id: int, secret: str, issuer: str) -> str:
    account = Account.get_or_none(Account.id == account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    return pyotp.TOTP(secret).provisioning_uri(name=account.name, issuer_name=issuer)


def unlock(account_id: int, by: Actor) -> None:
    with db.write():
        if Account.update(failed_logins=0, locked_until=0).where(Account.id == account_id).execute() != 1:
            raise NotFound(f"no account {account_id}")
        audit.record(by, "account.unlock", f"account:{account_id}", "ok", {})

