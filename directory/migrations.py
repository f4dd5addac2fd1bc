"""Schema migrations: an ordered list of steps and a table recording which ran.

Step 1 creates every model's table. Later steps use `playhouse.migrate`; on SQLite a step that rebuilds a
table runs with foreign keys off (TRAPS.md 22), which `_run` arranges for every step.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import peewee

from directory import db
from directory.models import ALL_MODELS
from directory.models.base import BaseModel


class SchemaMigration(BaseModel):
    step = peewee.IntegerField(primary_key=True)
    name = peewee.CharField(max_length=200)
    applied_at = peewee.BigIntegerField()


def _initial() -> None:
    db.database.create_tables(ALL_MODELS, safe=True)


def _add_columns(model: type[BaseModel], *names: str) -> None:
    """Add model fields missing from the table (step 1 already creates them on a new database)."""
    from playhouse.migrate import SchemaMigrator, migrate

    table = model._meta.table_name
    present = {c.name for c in db.database.get_columns(table)}
    migrator = SchemaMigrator.from_database(db.database.obj)
    fields = [model._meta.fields[n] for n in names if model._meta.fields[n].column_name not in present]
    migrate(*(migrator.add_column(table, f.column_name, f) for f in fields))


def _freshness_jobs_outbox() -> None:
    from directory import freshness
    from directory.models.accounts import Account
    from directory.models.entries import Organisation
    from directory.models.jobs import FreshnessFinding, JobLease, JobRun
    from directory.models.outbox import Outbox

    db.database.create_tables([JobLease, JobRun, FreshnessFinding, Outbox], safe=True)
    _add_columns(Organisation, "freshness", "source_valid_until")
    _add_columns(Account, "email")
    freshness.backfill()


def _search_index() -> None:
    from directory import search_sql

    search_sql.create_structures()


def _search_filters() -> None:
    from directory import search_sql
    from directory.models.search import SearchEntry

    _add_columns(SearchEntry, "filters", "registrar", "not_after", "confirmed_at")
    search_sql.add_filters()


def _federation() -> None:
    from directory.federation import journal
    from directory.models.federation import JournalLeaf, Peer, PeerNonce, PeerState, RemoteLeaf

    db.database.create_tables([JournalLeaf, Peer, PeerState, RemoteLeaf, PeerNonce], safe=True)
    journal.backfill()  # versions written before the journal existed are this node's own


def _approvals() -> None:
    from directory.models.approvals import PendingChange

    db.database.create_tables([PendingChange], safe=True)


def _totp_once() -> None:
    from directory.models.accounts import Account

    _add_columns(Account, "totp_last_step")


def _web_sessions() -> None:
    from directory.models.accounts import WebSession

    db.database.create_tables([WebSession], safe=True)


def _journal_leaves_per_signature() -> None:
    """Drop the unique (entry_id, version) of journal leaves: a version its organisation signs later is
    journaled again. DROP INDEX rebuilds no table (TRAPS.md 22 does not arise); a database made after
    this release never had the index, so it is looked up rather than assumed."""
    from playhouse.migrate import SchemaMigrator, migrate

    from directory.models.federation import JournalLeaf

    table = JournalLeaf._meta.table_name
    migrator = SchemaMigrator.from_database(db.database.obj)
    migrate(*(migrator.drop_index(table, index.name) for index in db.database.get_indexes(table)
              if index.unique and set(index.columns) == {"entry_id", "version"}))


STEPS: list[tuple[int, str, Callable[[], None]]] = [
    (1, "initial schema", _initial),
    (2, "freshness clocks, job leases and runs, outbox, account email", _freshness_jobs_outbox),
    (3, "search index (FTS5 / tsvector), phones, domain skeletons, rate counters", _search_index),
    (4, "federation journal, peers, peer state, remote leaves, request nonces", _federation),
    (5, "pending call-back changes awaiting a second admin", _approvals),
    (6, "search rows carry filters (inside the full-text index), registrar and clocks", _search_filters),
    (7, "accounts remember the last TOTP step accepted (a code signs in once)", _totp_once),
    (8, "web sessions kept on the server (signing out ends them)", _web_sessions),
    (9, "a version may have several journal leaves (its organisation's signature added)",
     _journal_leaves_per_signature),
]


def pending() -> list[tuple[int, str]]:
    db.database.create_tables([SchemaMigration], safe=True)
    done = {row.step for row in SchemaMigration.select(SchemaMigration.step)}
    return [(step, name) for step, name, _ in STEPS if step not in done]


def is_current() -> bool:
    if not db.database.table_exists(SchemaMigration._meta.table_name):
        return False
    done = {row.step for row in SchemaMigration.select(SchemaMigration.step)}
    return all(step in done for step, _, _ in STEPS)


def migrate() -> list[str]:
    """Apply pending steps in order; returns their names."""
    applied = []
    todo = {step for step, _ in pending()}
    for step, name, run in STEPS:
        if step in todo:
            _run(run)
            SchemaMigration.create(step=step, name=name, applied_at=int(time.time()))
            applied.append(name)
    return applied


def _run(step: Callable[[], None]) -> None:
    if db.is_sqlite():
        db.database.pragma("foreign_keys", 0)
        try:
            with db.database.atomic():
                step()
        finally:
            db.database.pragma("foreign_keys", 1)
    else:
        with db.database.atomic():
            step()
