"""peewee models, one module per aggregate; `ALL_MODELS` is what migrations create."""

from __future__ import annotations

from directory.models.accounts import Account, AccountOrganisation, ApiToken, ReadUsage, WebSession
from directory.models.approvals import PendingChange
from directory.models.audit import AuditEvent
from directory.models.base import BaseModel
from directory.models.entries import (
    Contact,
    EntryVersion,
    Organisation,
    OrgAsn,
    OrgDomain,
    OrgFacet,
    OrgPrefix,
)
from directory.models.federation import JournalLeaf, Peer, PeerNonce, PeerState, RemoteLeaf
from directory.models.jobs import FreshnessFinding, JobLease, JobRun
from directory.models.outbox import Outbox
from directory.models.search import DomainSkeleton, RateCounter, SearchEntry, SearchPhone
from directory.models.sync import SyncRun

ALL_MODELS: list[type[BaseModel]] = [
    EntryVersion,
    Organisation,
    Contact,
    OrgDomain,
    OrgPrefix,
    OrgAsn,
    OrgFacet,
    Account,
    AccountOrganisation,
    ApiToken,
    ReadUsage,
    WebSession,
    AuditEvent,
    PendingChange,
    SyncRun,
    JobLease,
    JobRun,
    FreshnessFinding,
    Outbox,
    SearchEntry,
    SearchPhone,
    DomainSkeleton,
    RateCounter,
    JournalLeaf,
    Peer,
    PeerState,
    RemoteLeaf,
    PeerNonce,
]
