"""The outbox: every notification is a row first and an email second.

Rows are written in the transaction that caused them (a new entry version, a freshness pass), so a
rollback sends nothing; delivery claims a row before talking to SMTP, so two deliverers never send it
twice. `dedupe_key` is unique: a reminder enqueued again by the next pass is the same row.
"""

from __future__ import annotations

import peewee

from directory.models.base import BaseModel

STATUSES = ("pending", "sending", "sent", "failed")


class Outbox(BaseModel):
    id = peewee.AutoField()
    dedupe_key = peewee.CharField(max_length=300, unique=True)
    message_id = peewee.CharField(max_length=300)  # stable per row: a resend after a crash is the same mail
    recipients = peewee.TextField()  # JSON list of addresses
    subject = peewee.CharField(max_length=300)
    body = peewee.TextField()
    created_at = peewee.BigIntegerField()
    status = peewee.CharField(max_length=10, default="pending")
    attempts = peewee.IntegerField(default=0)
    next_attempt_at = peewee.BigIntegerField()
    claimed_by = peewee.CharField(max_length=200, default="")
    claimed_until = peewee.BigIntegerField(default=0)
    sent_at = peewee.BigIntegerField(null=True)
    last_error = peewee.TextField(default="")

    class Meta:
        indexes = ((("status", "next_attempt_at"), False),)
