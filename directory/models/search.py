"""Search and lookup tables kept beside the entry projection (`directory.search_sql` writes them).

Plain columns only, so the same model works on SQLite and PostgreSQL; the engine-specific full-text
structures (an FTS5 table on SQLite, generated `tsvector` columns on PostgreSQL) are added by the
migration step in `directory.search_sql`. Rows are keyed by `entry_id` without a foreign key so the index
can be rewritten before the organisation row of a first version exists.
"""

from __future__ import annotations

import peewee

from directory.models.base import BaseModel


class SearchEntry(BaseModel):
    """One live entry's search text: tokens folded in Python so both engines see identical lexemes."""

    id = peewee.AutoField()  # the FTS5 rowid on SQLite
    entry_id = peewee.CharField(max_length=200, unique=True)
    public_text = peewee.TextField()  # space-separated folded tokens anyone may search
    restricted_text = peewee.TextField()  # contact names and addresses: readers only
    # Copies of the organisation row, written with it, so filtering and ordering happen on this table
    # (the filters inside the full-text index): filter values as exact tokens (`search_sql.filter_token`)
    # for country, kind, languages, service and request types, emergency; the registrar and clocks.
    filters = peewee.TextField(default="")
    registrar = peewee.CharField(max_length=200, default="")
    not_after = peewee.BigIntegerField(default=0)
    confirmed_at = peewee.BigIntegerField(default=0)
    name_key = peewee.TextField()  # "| name tokens | alt name tokens |" for relevance tiers
    sort_name = peewee.CharField(max_length=300)  # casefolded name, compared byte-wise on both engines
    summary = peewee.TextField()  # JSON: the public summary a result shows
    hours = peewee.TextField()  # JSON: {"timezone", "working_hours"} for reachable-now


class SearchPhone(BaseModel):
    """E.164 numbers of an entry (switchboard: contact_id ""), to match a caller in `verify`."""

    entry_id = peewee.CharField(max_length=200)
    contact_id = peewee.CharField(max_length=64)
    phone = peewee.CharField(max_length=20, index=True)

    class Meta:
        indexes = ((("entry_id", "contact_id", "phone"), True),)


class DomainSkeleton(BaseModel):
    """Official email domains by look-alike skeleton (`directory.lookalike`)."""

    entry_id = peewee.CharField(max_length=200, index=True)
    domain = peewee.CharField(max_length=253)
    skeleton = peewee.CharField(max_length=253, index=True)


class RateCounter(BaseModel):
    """Anonymous requests per client address and minute, shared by every worker (`directory.ratelimit`)."""

    client = peewee.CharField(max_length=64)
    window = peewee.BigIntegerField()
    count = peewee.IntegerField(default=0)

    class Meta:
        indexes = ((("client", "window"), True),)
