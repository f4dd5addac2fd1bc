"""One sync run: configuration -> directory snapshot -> plan -> guards -> one transaction.

The only write to an entry happens in `_apply`, inside one transaction that also holds the run record
and the audit event, so a run either leaves a new node-signed version with its record or changes no
entry at all. Every other outcome (LDAP error, incomplete result, guard, dry run, configuration error)
writes only its run record and audit event. The scheduler calls `run_source`; the CLI wraps it.
"""

from __future__ import annotations

import contextlib
import gc
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from directory import audit, db, entries, runtime
from directory.errors import ConfigurationError, DirectoryError, Gone, NotFound, PreconditionFailed
from directory.keys.canonical import TooLarge, canonical_bytes
from directory.models.sync import SyncRun
from directory.sync import guards
from directory.sync.config import SourceConfig, load_source
from directory.sync.plan import Plan, make_plan
from directory.sync.source import (
    DirectorySource,
    DirectoryUnavailable,
    IncompleteResult,
    LdapSource,
    Progress,
)

EXIT_CODES = {"applied": 0, "nothing_to_do": 0, "dry_run": 0, "ldap_error": 1, "incomplete": 1,
              "config_error": 2, "guard_tripped": 3}
AUDIT_ACTION = "sync.ldap"

SourceFactory = Callable[[SourceConfig], DirectorySource]


@dataclass(frozen=True)
class SyncResult:
    source: str
    outcome: str
    message: str = ""
    plan: Plan | None = None
    version: int | None = None
    run_id: int | None = None
    forced: bool = False

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]


def config_path() -> str:
    """The sync configuration file named by DIRECTORY_SYNC_CONFIG."""
    path = str(runtime.settings().get("SYNC_CONFIG") or "")
    if not path:
        raise ConfigurationError("LDAP sync is not configured: set DIRECTORY_SYNC_CONFIG to the sources file")
    return path


def run_source(name: str, *, dry_run: bool, force: bool, now: datetime | None = None,
               progress: Progress | None = None, source_factory: SourceFactory | None = None,
               path: str | Path | None = None) -> SyncResult:
    """Sync source `name` once; the outcome is recorded (SyncRun + audit) and returned, never raised."""
    started = now or datetime.now(UTC)
    clock = time.monotonic()
    try:
        config = load_source(path or config_path(), name)
    except ConfigurationError as exc:
        return _record(SyncResult(name, "config_error", exc.message), None, started, clock)
    with _collector_paused():
        result = _run(config, dry_run=dry_run, force=force, started=started, progress=progress,
                      factory=source_factory or LdapSource)
    if result.outcome == "applied":
        return result  # recorded inside the transaction that wrote the version
    return _record(result, config.organisation, started, clock)


class _CollectorPause:
    """Pause Python's cycle collector while any sync runs (reference counting still frees as usual).

    A run builds hundreds of thousands of long-lived, acyclic containers (the snapshot, the plan, the
    document and its rows); each collection pass re-scans the growing pile and finds nothing, which
    measured a quarter to a third of a 20,000-user sync. Cycles made meanwhile are collected by the
    first pass after the last concurrent run ends. Counted, because the collector is per process and
    the scheduler's runs may overlap a CLI-triggered one in the same process.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs = 0
        self._resume = False

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._runs == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._runs += 1
        try:
            yield
        finally:
            with self._lock:
                self._runs -= 1
                if self._runs == 0 and self._resume:
                    gc.enable()


_collector_paused = _CollectorPause()


def _run(config: SourceConfig, *, dry_run: bool, force: bool, started: datetime,
         progress: Progress | None, factory: SourceFactory) -> SyncResult:
    name = config.name
    try:
        snapshot = factory(config).fetch(progress)
    except IncompleteResult as exc:
        return SyncResult(name, "incomplete", exc.message)
    except DirectoryUnavailable as exc:
        return SyncResult(name, "ldap_error", exc.message)
    except ConfigurationError as exc:  # e.g. the password's environment variable is not set
        return SyncResult(name, "config_error", exc.message)
    # The document may change while we plan (a publisher's edit, another sync): the version we planned
    # against is required when writing, and a lost race is planned again once.
    for attempt in (1, 2):
        try:
            document = entries.get_document(config.organisation)
        except (NotFound, Gone) as exc:
            return SyncResult(name, "config_error", f"source {name!r}: organisation: {exc.message}")
        plan = make_plan(document, config, snapshot, started)
        reason = guards.tripped(plan, config)
        if reason and not force:
            return SyncResult(name, "guard_tripped", reason, plan)
        if dry_run:
            if plan.changed and (big := _oversized(document, plan)) is not None:
                return SyncResult(name, "config_error", _too_large(config, plan, big), plan)
            return SyncResult(name, "dry_run", "dry run: nothing was changed", plan, forced=bool(reason))
        if not plan.changed:
            return SyncResult(name, "nothing_to_do", "the directory and the entry agree", plan)
        try:
            return _apply(config, plan, started, forced=bool(reason))
        except TooLarge as exc:
            return SyncResult(name, "config_error", _too_large(config, plan, exc), plan)
        except PreconditionFailed as exc:
            if attempt == 2:
                return SyncResult(name, "incomplete", f"the organisation kept changing during the sync: "
                                  f"{exc.message}; nothing was changed", plan)
        except DirectoryError as exc:
            # The entry refused the change (read-only remote entry, invalid document): an admin must act.
            return SyncResult(name, "config_error", f"the entry refused the sync: {exc.message}", plan)
    raise AssertionError("unreachable")  # pragma: no cover


def _oversized(document: dict[str, Any], plan: Plan) -> TooLarge | None:
    """What the write would refuse for size (the dry run's check; applying gets it from the write)."""
    try:
        canonical_bytes({**document, "contacts": plan.contacts})
    except TooLarge as exc:
        return exc
    return None


def _too_large(config: SourceConfig, plan: Plan, exc: TooLarge) -> str:
    # The limit is the federation's (keys/canonical.py MAX_BYTES), not a setting: every node refuses
    # larger entries, so raising it here would publish an entry no peer accepts. README: LDAP sync.
    fits = exc.limit * len(plan.contacts) // max(exc.size, 1)
    return (f"source {config.name!r}: the organisation's entry would hold {len(plan.contacts)} contacts, "
            f"{exc.size} bytes signed, over the {exc.limit}-byte limit of an entry (about {fits} contacts "
            "like these): the configured groups designate more people than a contact-point roster "
            "holds; narrow the groups or user_filter, or split the roster over several organisations. "
            "Nothing was changed.")


def _apply(config: SourceConfig, plan: Plan, started: datetime, *, forced: bool) -> SyncResult:
    actor = entries.Actor.system(f"ldap-sync:{config.name}")
    clock = time.monotonic()
    with db.write():
        info = entries.update(config.organisation, {"contacts": plan.contacts}, actor,
                              if_version=plan.base_version, sync_source=config.name)
        message = (f"version {info.version}: {len(plan.additions)} added, {len(plan.updates)} updated, "
                   f"{len(plan.deactivations)} deactivated")
        result = SyncResult(config.name, "applied", message, plan, info.version, forced=forced)
        return _record(result, config.organisation, started, clock)


def _record(result: SyncResult, organisation: str | None, started: datetime, clock: float) -> SyncResult:
    counts: dict[str, Any] = result.plan.counts() if result.plan else {}
    begun = int(started.timestamp())
    with db.write():
        run = SyncRun.create(
            source=result.source, organisation=organisation, started_at=begun,
            finished_at=begun + round(time.monotonic() - clock), outcome=result.outcome,
            forced=result.forced, version=result.version, counts=json.dumps(counts, sort_keys=True),
            message=result.message[:2000])
        # Counts and ids only: the audit log never holds the names or emails a sync read.
        details = {**counts, "run": run.id, "forced": result.forced}
        if result.version is not None:
            details["version"] = result.version
        audit.record(entries.Actor.system(f"ldap-sync:{result.source}"), AUDIT_ACTION, organisation,
                     result.outcome, details)
    return replace(result, run_id=run.id)


def recent_runs(source: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The latest runs, newest first, for admins (CLI `sync sources`, the admin API)."""
    query = SyncRun.select().order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(limit)
    if source is not None:
        query = query.where(SyncRun.source == source)
    return [{"id": r.id, "source": r.source, "organisation": r.organisation, "started_at": r.started_at,
             "finished_at": r.finished_at, "outcome": r.outcome, "forced": r.forced, "version": r.version,
             "counts": json.loads(r.counts), "message": r.message} for r in query]
