"""Entries: the append-only signed history and the query tables projected from the current version.

`EntryVersion` is the source of truth (exact signed bytes, never updated). `Organisation` and the rows
beside it are a projection of each entry's current version, rewritten in the same transaction as every
new version, so search never parses documents.
"""

from __future__ import annotations

import peewee

from directory.models.base import BaseModel


class EntryVersion(BaseModel):
    id = peewee.AutoField()
    entry_id = peewee.CharField(max_length=200)
    version = peewee.IntegerField()
    payload = peewee.BlobField()  # the exact canonical bytes that were signed
    digest = peewee.CharField(max_length=64)  # sha256 hex of payload; the next version's `prev`
    signatures = peewee.TextField()  # JSON list of {signer, key_fpr, sig}
    tombstone = peewee.BooleanField(default=False)
    created_at = peewee.BigIntegerField()
    actor = peewee.CharField(max_length=200)

    class Meta:
        indexes = ((("entry_id", "version"), True),)


class Organisation(BaseModel):
    """Current state of one entry (also for deleted entries, flagged, so ids are never reused)."""

    entry_id = peewee.CharField(max_length=200, primary_key=True)
    registrar = peewee.CharField(max_length=200, index=True)
    version = peewee.IntegerField()
    digest = peewee.CharField(max_length=64)
    deleted = peewee.BooleanField(default=False)
    kind = peewee.CharField(max_length=40)
    name = peewee.CharField(max_length=300)
    country = peewee.CharField(max_length=2)
    timezone = peewee.CharField(max_length=64)
    iat = peewee.BigIntegerField()
    not_after = peewee.BigIntegerField(index=True)
    confirmed_at = peewee.BigIntegerField()
    # Precomputed API views: entry versions are immutable, so these are rebuilt only on a new version.
    public_view = peewee.TextField()
    reader_view = peewee.TextField()
    # Freshness clocks of this version (JSON, policy-free instants: see `directory.freshness`), so a read
    # computes the status from a few integers without parsing the document.
    freshness = peewee.TextField(default="{}")
    # Federated entries: until when the registrar's last checkpoint is valid (None: this node's own).
    source_valid_until = peewee.BigIntegerField(null=True)

    class Meta:
        indexes = ((("deleted", "country", "kind", "name"), False), (("deleted", "name"), False))


class Contact(BaseModel):
    organisation = peewee.ForeignKeyField(Organisation, backref="contact_rows", on_delete="CASCADE")
    contact_id = peewee.CharField(max_length=64)
    email = peewee.CharField(max_length=320, index=True)  # lower-cased for lookup
    display_name = peewee.CharField(max_length=300)
    active = peewee.BooleanField()
    emergency = peewee.BooleanField()
    source = peewee.CharField(max_length=100)

    class Meta:
        indexes = ((("organisation", "contact_id"), True),)


class OrgDomain(BaseModel):
    """Official email domains (`official`) and network/service domains (`network`), ASCII lower case."""

    organisation = peewee.ForeignKeyField(Organisation, on_delete="CASCADE")
    domain = peewee.CharField(max_length=253)
    role = peewee.CharField(max_length=10)

    class Meta:
        indexes = ((("domain", "role"), False),)


class OrgPrefix(BaseModel):
    """IP prefixes as fixed-width hex bounds so longest-prefix match is an indexed range query."""

    organisation = peewee.ForeignKeyField(Organisation, on_delete="CASCADE")
    family = peewee.SmallIntegerField()
    first = peewee.CharField(max_length=32)
    last = peewee.CharField(max_length=32)
    length = peewee.SmallIntegerField()
    prefix = peewee.CharField(max_length=43)

    class Meta:
        indexes = ((("family", "first", "last"), False),)


class OrgAsn(BaseModel):
    organisation = peewee.ForeignKeyField(Organisation, on_delete="CASCADE")
    asn = peewee.BigIntegerField(index=True)


class OrgFacet(BaseModel):
    """Search filters: language, service_type, request_type, emergency (value `yes`)."""

    organisation = peewee.ForeignKeyField(Organisation, on_delete="CASCADE")
    facet = peewee.CharField(max_length=20)
    value = peewee.CharField(max_length=64)

    class Meta:
        indexes = ((("facet", "value", "organisation"), True),)
