"""Job leases and run records: what makes a scheduled job run once, on one host, and leaves a trace.

A lease is one row per job. Taking it is a single conditional UPDATE ("free, and this interval's slot not
yet run") after an INSERT that is ignored when the row exists; the database evaluates each atomically
(PostgreSQL re-checks the WHERE clause after waiting for a concurrent writer), so two schedulers on
different hosts never both hold it, and the slot stops the second one from running the same interval
again a moment after the first finished. Every run that took the lease is recorded in `JobRun`.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from directory import db, runtime
from directory.models.jobs import JobLease, JobRun

log = logging.getLogger(__name__)

_holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class JobFailed(Exception):
    """A job that ran but did not achieve its purpose (its message becomes the run's summary)."""


@dataclass(frozen=True)
class Job:
    name: str
    func: Callable[[], str | None]  # returns a one-line summary
    interval: int  # seconds
    lease_seconds: int  # a holder that dies frees the job after this long
    misfire_grace: int  # seconds late a run may still start (APScheduler's default of 1 s skips runs)


def holder() -> str:
    return _holder


def slot_of(now: int, interval: int) -> int:
    """The interval a scheduled run belongs to: the nearest boundary, so schedulers whose clocks or
    start-up differ by less than half an interval agree on it."""
    return (now + interval // 2) // interval


def take_lease(name: str, lease_seconds: int, *, slot: int | None = None, now: int | None = None) -> bool:
    now = runtime.now() if now is None else now
    values: dict[str, object] = {"holder": _holder, "expires_at": now + lease_seconds}
    condition = (JobLease.name == name) & (JobLease.expires_at < now)
    if slot is not None:
        values["slot"] = slot
        condition &= JobLease.slot < slot
    with db.write():
        JobLease.insert(name=name).on_conflict_ignore().execute()
        taken = JobLease.update(values).where(condition).execute()
    return bool(taken)


def release(name: str) -> None:
    with db.write():
        JobLease.update(expires_at=0).where((JobLease.name == name) & (JobLease.holder == _holder)).execute()


def run(job: Job, *, scheduled: bool) -> JobRun | None:
    """Run `job` once under its lease; None when another holder has it (or ran this slot already)."""
    now = runtime.now()
    slot = slot_of(now, job.interval) if scheduled else None
    if not take_lease(job.name, job.lease_seconds, slot=slot, now=now):
        log.info("job %s: lease held elsewhere or slot %s already run", job.name, slot)
        return None
    with db.write():
        record = JobRun.create(name=job.name, holder=_holder, slot=slot, started_at=now, outcome="running")
    try:
        summary, outcome = job.func() or "", "ok"
    except Exception as exc:  # recorded and logged: one failing job must not stop the scheduler
        log.exception("job %s failed", job.name)
        summary, outcome = f"{type(exc).__name__}: {exc}", "failed"
    finally:
        release(job.name)
    with db.write():
        JobRun.update(finished_at=runtime.now(), outcome=outcome, summary=summary[:4000]).where(
            JobRun.id == record.id).execute()
    return JobRun.get_by_id(record.id)


def last_runs(names: list[str]) -> dict[str, JobRun]:
    out: dict[str, JobRun] = {}
    for name in names:
        row = JobRun.select().where(JobRun.name == name).order_by(JobRun.started_at.desc(),
                                                                 JobRun.id.desc()).first()
        if row is not None:
            out[name] = row
    return out
