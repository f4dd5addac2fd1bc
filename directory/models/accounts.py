"""Accounts, their organisations and their API tokens (stored as sha256 digests only)."""

from __future__ import annotations

import peewee

from directory.models.base import BaseModel


class Account(BaseModel):
    id = peewee.AutoField()
    name = peewee.CharField(max_length=200, unique=True)
    role = peewee.CharField(max_length=20)  # admin | publisher | reader
    password_hash = peewee.CharField(max_length=200, null=True)
    totp_secret = peewee.CharField(max_length=64, null=True)
    disabled = peewee.BooleanField(default=False)
    created_at = peewee.BigIntegerField()
    failed_logins = peewee.IntegerField(default=0)
    locked_until = peewee.BigIntegerField(default=0)
    # Where notifications for this account go (reminders, alerts); optional (migration step 2).
    email = peewee.CharField(max_length=320, null=True)
    # The TOTP time step of the last accepted code: a code is accepted once (migration step 7).
    totp_last_step = peewee.BigIntegerField(default=0)


class WebSession(BaseModel):
    """A signed-in web session (migration step 8). The cookie carries its id; the row makes it end on the
    server: signing out deletes it, so a copy of the cookie taken before is worth nothing after."""

    id_hash = peewee.CharField(max_length=64, primary_key=True)  # sha256 of the id in the cookie
    account = peewee.ForeignKeyField(Account, backref="web_sessions", on_delete="CASCADE")
    created_at = peewee.BigIntegerField(index=True)


class AccountOrganisation(BaseModel):
    account = peewee.ForeignKeyField(Account, backref="organisations", on_delete="CASCADE")
    entry_id = peewee.CharField(max_length=200)

    class Meta:
        indexes = ((("account", "entry_id"), True),)


class ApiToken(BaseModel):
    account = peewee.ForeignKeyField(Account, backref="tokens", on_delete="CASCADE")
    token_hash = peewee.CharField(max_length=64, unique=True)
    created_at = peewee.BigIntegerField()
    expires_at = peewee.BigIntegerField()
    revoked = peewee.BooleanField(default=False)


class ReadUsage(BaseModel):
    """Restricted reads per account per hour, for the rolling 24-hour quota (anti-scraping)."""

    id = peewee.AutoField()
    account_id = peewee.IntegerField()
    hour = peewee.BigIntegerField()
    count = peewee.IntegerField(default=0)

    class Meta:
        indexes = ((("account_id", "hour"), True),)
