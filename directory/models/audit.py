"""The append-only, hash-chained audit log."""

from __future__ import annotations

import peewee

from directory.models.base import BaseModel


class AuditEvent(BaseModel):
    seq = peewee.BigIntegerField(primary_key=True)
    at = peewee.BigIntegerField(index=True)
    actor = peewee.CharField(max_length=200)
    action = peewee.CharField(max_length=60, index=True)
    target = peewee.CharField(max_length=300, null=True)
    outcome = peewee.CharField(max_length=60)
    details = peewee.TextField()  # canonical JSON; references and counts, never personal content
    prev_hash = peewee.CharField(max_length=64)
    hash = peewee.CharField(max_length=64)
