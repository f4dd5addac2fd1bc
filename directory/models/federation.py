"""Federation: this node's journal, the peers it pulls from and what it last accepted from each.

`JournalLeaf` is append-only and gapless (`seq` 1, 2, 3 ...); `head` is the hash chain up to that leaf, so
a checkpoint (size, head) commits to the whole history. A version has one leaf, and one more each time its
organisation adds its own signature to it. `RemoteLeaf` keeps the leaves seen from each peer, so a peer
that rewrites its history is caught at the first seq it changed.
"""

from __future__ import annotations

import peewee

from directory.models.base import BaseModel


class JournalLeaf(BaseModel):
    seq = peewee.BigIntegerField(primary_key=True)
    entry_id = peewee.CharField(max_length=200, index=True)
    version = peewee.IntegerField()
    leaf = peewee.CharField(max_length=64)  # sha256 hex of the stored envelope bytes
    head = peewee.CharField(max_length=64)  # h_seq = sha256(h_(seq-1) || leaf), hex
    at = peewee.BigIntegerField()


class Peer(BaseModel):
    """A node this node exchanges entries with; its key is pinned by fingerprint when it is added."""

    id = peewee.AutoField()
    name = peewee.CharField(max_length=100, unique=True)
    url = peewee.CharField(max_length=300)
    node_id = peewee.CharField(max_length=200, unique=True)  # from its descriptor; registrar of its entries
    fingerprint = peewee.CharField(max_length=40)
    public_key = peewee.TextField()  # armored; matches `fingerprint`, checked when added
    countries = peewee.CharField(max_length=1000, default="")  # accepted scope, comma list; empty = any
    kinds = peewee.CharField(max_length=1000, default="")
    created_at = peewee.BigIntegerField()


class PeerState(BaseModel):
    """The last good checkpoint accepted from a peer, and the last failure (kept until the next success)."""

    peer = peewee.ForeignKeyField(Peer, primary_key=True, on_delete="CASCADE")
    session = peewee.CharField(max_length=64, null=True)
    size = peewee.BigIntegerField(default=0)
    head = peewee.CharField(max_length=64, null=True)
    iat = peewee.BigIntegerField(null=True)
    valid_until = peewee.BigIntegerField(null=True)
    last_success_at = peewee.BigIntegerField(null=True)
    last_attempt_at = peewee.BigIntegerField(null=True)
    last_error = peewee.TextField(null=True)
    last_error_at = peewee.BigIntegerField(null=True)


class RemoteLeaf(BaseModel):
    peer = peewee.ForeignKeyField(Peer, on_delete="CASCADE")
    seq = peewee.BigIntegerField()
    entry_id = peewee.CharField(max_length=200)
    version = peewee.IntegerField()
    leaf = peewee.CharField(max_length=64)

    class Meta:
        indexes = ((("peer", "seq"), True),)


class PeerNonce(BaseModel):
    """Nonces of signed peer requests seen within the clock window: a replayed request is refused."""

    node_id = peewee.CharField(max_length=200)
    nonce = peewee.CharField(max_length=64)
    expires = peewee.BigIntegerField(index=True)

    class Meta:
        indexes = ((("node_id", "nonce"), True),)
