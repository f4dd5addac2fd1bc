"""Scheduled jobs: the lease that lets one scheduler run a job at a time, the record of every run, and
the freshness findings the hourly check keeps between passes.

`JobLease` is a row per job; it is taken with one conditional UPDATE (see `directory.jobs`), which the
database evaluates atomically, so two schedulers on different hosts can never both hold it.
"""

from __future__ import annotations

import peewee

from directory.models.base import BaseModel


class JobLease(BaseModel):
    name = peewee.CharField(max_length=100, primary_key=True)
    holder = peewee.CharField(max_length=200, default="")
    expires_at = peewee.BigIntegerField(default=0)  # epoch seconds; 0 = free
    # The last interval slot (round(time / interval)) a scheduled run was started for: a slot is run
    # once, even when the second scheduler fires a moment after the first one finished.
    slot = peewee.BigIntegerField(default=0)


class JobRun(BaseModel):
    id = peewee.AutoField()
    name = peewee.CharField(max_length=100)
    holder = peewee.CharField(max_length=200)
    slot = peewee.BigIntegerField(null=True)  # None for runs started by hand
    started_at = peewee.BigIntegerField()
    finished_at = peewee.BigIntegerField(null=True)
    outcome = peewee.CharField(max_length=20)  # running | ok | failed
    summary = peewee.TextField(default="")

    class Meta:
        indexes = ((("name", "started_at"), False),)


class FreshnessFinding(BaseModel):
    """The last status the freshness check saw per entry, so admins hear about a change once."""

    entry_id = peewee.CharField(max_length=200, primary_key=True)
    status = peewee.CharField(max_length=20)
    version = peewee.IntegerField()
    seen_at = peewee.BigIntegerField()
