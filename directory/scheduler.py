"""The scheduler: APScheduler in ONE dedicated process (`directory scheduler`), never in API workers.

One scheduler per gunicorn worker would run every job once per worker, and a shared job store does not
prevent it (TRAPS.md 16); so the API never starts one, and each run takes a database lease
(`directory.jobs`), which also makes a second scheduler on another host harmless.

Features register their jobs with `register_job(name, func, interval)`: this module registers the
freshness check (hourly), outbox delivery (every minute) and one job per configured LDAP source (its
`schedule_minutes`); a module `directory.federation.jobs` with `register_jobs(register_job)`, when
present, registers one per peer. Deliberate APScheduler settings (TRAPS.md 17): `coalesce=True` (a
backlog after a pause is one run, not many), `max_instances=1`, and `misfire_grace_time` of half an
interval (a run that late still starts; the default of 1 s would silently skip it). Triggers are aligned
to multiples of the interval since the epoch so every scheduler fires at the same instants.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from directory import db, jobs
from directory.jobs import Job, JobFailed

log = logging.getLogger(__name__)

_registry: dict[str, Job] = {}
_features_loaded = False


def register_job(name: str, func: Callable[[], str | None], interval: int, *,
                 lease_seconds: int | None = None, misfire_grace: int | None = None) -> Job:
    """Register (or replace) a job; `func` runs in a scheduler thread with a database connection open
    and returns a one-line summary, or raises (`JobFailed` for an expected failure)."""
    if interval < 1:
        raise ValueError("interval must be at least one second")
    job = Job(name=name, func=func, interval=interval,
              lease_seconds=lease_seconds or max(interval, 15 * 60),
              misfire_grace=misfire_grace or max(1, interval // 2))
    _registry[name] = job
    return job


def registered() -> dict[str, Job]:
    """Every job of every feature (features register on first call)."""
    global _features_loaded
    if not _features_loaded:
        _features_loaded = True
        _register_features()
    return dict(_registry)


def _register_features() -> None:
    from directory import freshness, notifications

    register_job("freshness", freshness.check_job, 3600)
    register_job("outbox", lambda: notifications.deliver().summary(), 60, lease_seconds=10 * 60)
    _register_sync_sources()
    try:
        from directory.federation import jobs as federation_jobs
    except ImportError:
        return
    federation_jobs.register_jobs(register_job)


def _register_sync_sources() -> None:
    from directory import runtime

    path = str(runtime.settings().get("SYNC_CONFIG") or "")
    if not path:
        return
    try:
        from directory.sync import load_sources
    except ImportError:
        return
    for name, source in load_sources(path).items():
        register_job(f"sync:{name}", _sync_job(name), source.schedule_minutes * 60)


def _sync_job(name: str) -> Callable[[], str]:
    def run() -> str:
        from directory import notifications
        from directory.sync import run_source

        result = run_source(name, dry_run=False, force=False)
        summary = f"{result.outcome}: {result.message}".rstrip(": ")
        if result.outcome not in {"applied", "nothing_to_do"}:
            notifications.notify_admins(f"LDAP sync {name!r} failed: {result.outcome}",
                                        f"LDAP source {name!r} did not sync.\n\n{summary}\n\nNothing was "
                                        f"changed. See `directory sync sources`.\n",
                                        f"sync-failed:{name}:{result.run_id}")
            raise JobFailed(summary)
        return summary

    return run


def run_job(job: Job, *, scheduled: bool) -> Any:
    """One run in this thread with its own connection (the scheduler's threads share nothing)."""
    with db.database.connection_context():
        return jobs.run(job, scheduled=scheduled)


def build(selected: Iterable[Job]) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone=UTC)
    epoch = datetime.fromtimestamp(0, UTC)
    for job in selected:
        scheduler.add_job(run_job, IntervalTrigger(seconds=job.interval, start_date=epoch, timezone=UTC),
                          args=[job], kwargs={"scheduled": True}, id=job.name, name=job.name,
                          coalesce=True, max_instances=1, misfire_grace_time=job.misfire_grace)
    return scheduler


def run(only: Iterable[str] = (), run_for: float | None = None) -> None:
    """Run the scheduler until SIGTERM/SIGINT (or `run_for` seconds, for tests and smoke checks)."""
    available = registered()
    names = list(only) or list(available)
    unknown = sorted(set(names) - set(available))
    if unknown:
        raise ValueError(f"unknown jobs: {', '.join(unknown)}")
    scheduler = build(available[n] for n in names)

    def stop(*_args: Any) -> None:
        # shutdown() waits for running jobs; from a signal handler that would block the main loop.
        threading.Thread(target=scheduler.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    if run_for is not None:
        threading.Timer(run_for, stop).start()
    log.info("scheduler %s running: %s", jobs.holder(), ", ".join(names))
    scheduler.start()
