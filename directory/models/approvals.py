"""Changes to the call-back path that wait for a second administrator (DESIGN: accounts and audit)."""

from __future__ import annotations

import peewee

from directory.models.base import BaseModel

STATUSES = ("pending", "approved", "rejected", "superseded")


class PendingChange(BaseModel):
    id = peewee.AutoField()
    entry_id = peewee.CharField(max_length=300, index=True)
    base_version = peewee.IntegerField()  # the version the change was made against; applied only onto it
    changes = peewee.TextField()  # JSON of the loaded top-level fields, as `entries.update` takes them
    fields = peewee.TextField()  # JSON list of the call-back fields it touches (what the approver checks)
    requested_by = peewee.CharField(max_length=200)  # actor label, e.g. account:7
    requester_account = peewee.IntegerField(null=True)
    requested_at = peewee.BigIntegerField()
    status = peewee.CharField(max_length=12, default="pending", index=True)
    decided_by = peewee.CharField(max_length=200, null=True)
    decided_at = peewee.BigIntegerField(null=True)
    applied_version = peewee.IntegerField(null=True)
    note = peewee.TextField(default="")
