"""LDAP sync runs: one row per attempt, whatever its outcome, so admins see when a source last worked."""

from __future__ import annotations

import peewee

from directory.models.base import BaseModel

OUTCOMES = (
    "applied", "nothing_to_do", "dry_run", "ldap_error", "incomplete", "guard_tripped", "config_error",
)


class SyncRun(BaseModel):
    id = peewee.AutoField()
    source = peewee.CharField(max_length=40)
    organisation = peewee.CharField(max_length=300, null=True)
    started_at = peewee.BigIntegerField()  # epoch seconds, like every time in the directory
    finished_at = peewee.BigIntegerField()
    outcome = peewee.CharField(max_length=20)
    forced = peewee.BooleanField(default=False)
    # The entry version the run wrote (applied runs only).
    version = peewee.IntegerField(null=True)
    # JSON object of counts (read, designated, added, updated, deactivated, skipped): never names or emails.
    counts = peewee.TextField(default="{}")
    message = peewee.TextField(default="")

    class Meta:
        indexes = ((("source", "started_at"), False),)
