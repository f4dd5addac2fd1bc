"""Restricted reads: counted and audited before they are answered; concurrent reads share a commit."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from directory import accounts, audit, db, quota, reads, runtime
from directory.actors import Actor
from directory.errors import TooManyRequests
from directory.models.accounts import ReadUsage
from directory.models.audit import AuditEvent

ADMIN = Actor.system("test")


@pytest.fixture
def reader(app: Flask) -> Actor:
    token = accounts.create("reader-reads", "reader", [], ADMIN).token
    return accounts.authenticate(token, "127.0.0.1")


def _in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` in `count` threads, each with its own connection; each result or exception."""
    results: list[Any] = [None] * count

    def one(i: int) -> None:
        with db.database.connection_context():
            try:
                results[i] = work(i)
            except Exception as error:  # the test inspects it
                results[i] = error

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


def _queued(count: int) -> None:
    """Wait (at most 3 s) until `count` reads wait in the queue; the test's own asserts then tell."""
    for _ in range(300):
        with reads._group.ready:
            if len(reads._group.queue) == count:
                return
        time.sleep(0.01)


def _used(actor: Actor) -> int:
    return sum(row.count for row in ReadUsage.select().where(ReadUsage.account_id == actor.account_id))


def _read_rows() -> list[AuditEvent]:
    return list(AuditEvent.select().where(AuditEvent.action == "read.test").order_by(AuditEvent.seq))


def test_a_read_is_counted_and_audited_before_charge_returns(reader: Actor) -> None:
    reads.charge(reader, "read.test", "urn:x", {"level": "reader"}, count=3)

    assert _used(reader) == 3
    [row] = _read_rows()
    assert (row.actor, row.target, row.outcome, row.details) == (
        f"account:{reader.account_id}", "urn:x", "ok", '{"level":"reader"}')
    assert audit.verify().ok


def test_concurrent_reads_are_each_counted_and_audited_once(reader: Actor) -> None:
    results = _in_threads(24, lambda i: reads.charge(reader, "read.test", f"urn:{i}"))

    assert results == [None] * 24
    assert _used(reader) == 24
    assert sorted(row.target for row in _read_rows()) == sorted(f"urn:{i}" for i in range(24))
    assert audit.verify().ok


def test_the_quota_holds_exactly_under_concurrent_reads(reader: Actor,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(runtime.settings(), "READ_QUOTA", 10)
    results = _in_threads(16, lambda i: reads.charge(reader, "read.test", f"urn:{i}"))

    refused = [r for r in results if isinstance(r, TooManyRequests)]
    assert len(refused) == 6 and results.count(None) == 10
    assert all(r.retry_after > 0 for r in refused)
    assert _used(reader) == 10
    assert len(_read_rows()) == 10  # a refused read is neither answered nor audited


def test_reads_queued_during_a_commit_share_the_next_one(reader: Actor,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The first read commits alone while the others queue behind it; the next commit takes all of them."""
    batches: list[int] = []
    first_inside, release = threading.Event(), threading.Event()
    charge_all = reads._charge

    def observed(batch: list[Any]) -> None:
        batches.append(len(batch))
        if len(batches) == 1:
            first_inside.set()
            assert release.wait(30)
        charge_all(batch)

    monkeypatch.setattr(reads, "_charge", observed)
    monkeypatch.setattr(reads._group, "last_batch", 1)  # no gathering: the first read commits alone
    first = threading.Thread(target=_in_threads, args=(1, lambda i: reads.charge(reader, "read.test", "a")))
    first.start()
    assert first_inside.wait(30)
    queued = threading.Thread(
        target=_in_threads, args=(5, lambda i: reads.charge(reader, "read.test", f"b{i}")))
    queued.start()
    _queued(5)  # the five reads wait for the running commit
    release.set()
    first.join(30)
    queued.join(30)

    assert batches == [1, 5]
    assert _used(reader) == 6 and len(_read_rows()) == 6
    assert audit.verify().ok


def test_after_a_shared_commit_the_next_one_waits_for_company(reader: Actor,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    batches: list[int] = []
    charge_all = reads._charge

    def observed(batch: list[Any]) -> None:
        batches.append(len(batch))
        charge_all(batch)

    late: list[threading.Thread] = []

    def gather() -> None:
        # Reads that arrive while the commit gathers join it (the wait itself is GATHER_SECONDS).
        late.append(threading.Thread(target=_in_threads,
                                     args=(3, lambda i: reads.charge(reader, "read.test", f"late{i}"))))
        late[0].start()
        _queued(4)

    monkeypatch.setattr(reads, "_charge", observed)
    monkeypatch.setattr(reads, "_gather", gather)
    monkeypatch.setattr(reads._group, "last_batch", 2)
    reads.charge(reader, "read.test", "first")
    # Joined before the test ends: a thread still leaving its connection when the fixture closes the
    # database fails there, and pytest blames the next test.
    late[0].join(30)
    assert not late[0].is_alive()
    assert batches == [4] and reads._group.last_batch == 4

    monkeypatch.setattr(reads._group, "last_batch", 1)
    monkeypatch.setattr(reads, "_gather", lambda: pytest.fail("a lone read must not wait"))
    reads.charge(reader, "read.test", "alone")
    assert batches == [4, 1]
    assert _used(reader) == 5 and len(_read_rows()) == 5


def test_a_failed_commit_refuses_every_read_of_it_and_stores_nothing(
        reader: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(events: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "record_many", broken)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    reads.log.addHandler(handler)
    try:
        results = _in_threads(6, lambda i: reads.charge(reader, "read.test", f"urn:{i}"))
    finally:
        reads.log.removeHandler(handler)

    assert all(isinstance(r, reads.NotCharged) and r.status == 503 for r in results)
    assert len({id(r) for r in results}) == 6  # each thread raises its own exception object
    assert _used(reader) == 0  # the quota rows of the batch were rolled back with it
    assert records and all(r.exc_info and "disk full" in str(r.exc_info[1]) for r in records)


def test_an_interrupted_commit_leaves_no_read_answered(reader: Actor,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(batch: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(reads, "_charge", interrupted)
    batch = [reads._Read(reader, 1, audit.Event(reader, "read.test", f"urn:{i}", "ok")) for i in range(3)]
    with pytest.raises(KeyboardInterrupt):
        reads._commit(batch)

    assert all(read.done and isinstance(read.error, reads.NotCharged) for read in batch)
    assert _used(reader) == 0


def test_inside_a_transaction_the_charge_joins_it(reader: Actor) -> None:
    class Undo(Exception):
        pass

    with pytest.raises(Undo), db.write():
        reads.charge(reader, "read.test", "urn:x")
        assert _used(reader) == 1
        raise Undo

    assert _used(reader) == 0 and _read_rows() == []


def test_quota_charge_refuses_in_order_and_counts_what_passes(reader: Actor,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(runtime.settings(), "READ_QUOTA", 5)
    verdicts = quota.charge(reader, [2, 4, 3, 1])

    assert [v is None for v in verdicts] == [True, False, True, False]
    assert _used(reader) == 5


def test_a_read_charged_with_count_zero_is_audited_with_the_quota_spent(
        reader: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    # A publisher's reads of its own organisation (directory.organisations._counted).
    monkeypatch.setitem(runtime.settings(), "READ_QUOTA", 1)
    reads.charge(reader, "read.test", "counted")
    with pytest.raises(TooManyRequests):
        reads.charge(reader, "read.test", "refused")
    reads.charge(reader, "read.test", "own", count=0)

    assert [row.target for row in _read_rows()] == ["counted", "own"] and _used(reader) == 1


def test_a_read_interrupted_while_the_commit_gathers_is_not_charged(reader: Actor,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(reads, "_gather", interrupted)
    monkeypatch.setattr(reads._group, "last_batch", 2)
    with pytest.raises(KeyboardInterrupt):
        reads.charge(reader, "read.test", "interrupted")

    assert reads._group.queue == [] and not reads._group.committing
    monkeypatch.setattr(reads._group, "last_batch", 1)
    reads.charge(reader, "read.test", "next")  # the group still works, and charges only this read
    assert [row.target for row in _read_rows()] == ["next"] and _used(reader) == 1
