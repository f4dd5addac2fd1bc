"""Restricted reads are paid for before they are answered: counted against the reader's quota and
audited, in one write transaction.

Concurrent reads in one process share that transaction (group commit). A read that finds no commit
running commits every read queued at that moment; reads arriving meanwhile queue for the next commit.
Each read still waits for its own commit, so no answer goes out before its audit row is stored, and a
read refused by the quota is neither answered nor audited. What the group saves is a transaction,
and a turn at the writer lock, per read: under load, readers waiting for the write were most of what
the charge cost (README, "Writes", has the A/B figures).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from directory import audit, db, quota
from directory.actors import Actor
from directory.errors import DirectoryError


@dataclass(eq=False)
class _Read:
    actor: Actor
    count: int
    event: audit.Event
    error: BaseException | None = None
    done: bool = False


# How long a commit waits for company, once the previous commit had some (PostgreSQL's `commit_delay`
# and `commit_siblings` in one rule). A lone read, the common case on a quiet node, never waits. Under
# load the wait gathers 3-4 reads per commit instead of mostly 1: +19 % lookups/s on SQLite in an A/B on
# loopback (bench/throughput.py's settings), for 0.3 ms more per restricted read.
GATHER_SECONDS = 0.0003


@dataclass(eq=False)
class _Group:
    ready: threading.Condition = field(default_factory=threading.Condition)
    queue: list[_Read] = field(default_factory=list)
    committing: bool = False
    last_batch: int = 1


_group = _Group()
log = logging.getLogger(__name__)


class NotCharged(DirectoryError):
    """The transaction that held this read's charge did not commit; the read is not answered."""

    status = 503
    code = "unavailable"


def charge(actor: Actor, action: str, target: str | None, details: dict[str, Any] | None = None,
           count: int = 1, outcome: str = "ok") -> None:
    """Count `count` restricted reads against the actor's quota (429 past it) and audit them, committed
    before this returns. Inside a caller's transaction both join it instead."""
    read = _Read(actor, count, audit.Event(actor, action, target, outcome, details))
    if db.database.in_transaction():
        _charge([read])
    else:
        _submit(read)
    if read.error is not None:
        raise read.error


def _submit(read: _Read) -> None:
    group = _group
    with group.ready:
        group.queue.append(read)
        try:
            _until_done(group, read)
        except BaseException:
            # Interrupted before its batch was taken (in the gather wait, say): a read that will not
            # be answered must not be charged by the next commit either.
            if read in group.queue:
                group.queue.remove(read)
            raise


def _until_done(group: _Group, read: _Read) -> None:
    """Wait for a commit that includes `read`, or lead one (called with `group.ready` held)."""
    while not read.done:
        if group.committing:
            group.ready.wait()
            continue
        group.committing = True
        try:
            if group.last_batch > 1:
                group.ready.release()
                try:
                    _gather()
                finally:
                    group.ready.acquire()
            batch, group.queue = group.queue, []
            group.last_batch = len(batch)
            group.ready.release()
            try:
                _commit(batch)
            finally:
                group.ready.acquire()
        finally:
            group.committing = False
            group.ready.notify_all()


def _gather() -> None:
    """Let the reads in flight in other threads reach the queue before this commit takes it."""
    time.sleep(GATHER_SECONDS)


def _commit(batch: list[_Read]) -> None:
    """One write transaction for a batch; whatever happens, every read of it ends done.

    When the transaction fails, every read of the batch gets its own 503: one exception object raised in
    several threads would collect all their tracebacks. The cause is logged here, once.
    """
    committed = False
    try:
        with db.write():
            _charge(batch)
        committed = True
    except Exception:
        log.exception("%d restricted reads could not be recorded and were refused", len(batch))
    finally:
        for read in batch:
            if not committed:  # also when interrupted (BaseException): nothing of the batch was stored
                read.error = NotCharged("the read could not be recorded; try again")
            read.done = True


def _charge(batch: list[_Read]) -> None:
    """Quota first (per actor, in order), then one audit row for each read the quota let through."""
    by_actor: dict[Actor, list[_Read]] = {}
    for read in batch:
        by_actor.setdefault(read.actor, []).append(read)
    for actor, reads in by_actor.items():
        for read, refused in zip(reads, quota.charge(actor, [r.count for r in reads]), strict=True):
            read.error = refused
    audit.record_many([read.event for read in batch if read.error is None])
