"""`directory sync`: run an LDAP source now (or only show its plan) and list sources with their last runs.

Exit codes are part of the interface for cron jobs and monitoring: 0 applied or nothing to do, 1 LDAP
error or incomplete result, 2 configuration error, 3 guard tripped; in cases 1-3 nothing was changed.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import Any, TextIO

import click

from directory import db
from directory.errors import ConfigurationError
from directory.sync.apply import EXIT_CODES, SyncResult, config_path, recent_runs, run_source
from directory.sync.config import load_sources
from directory.sync.contacts import clean_text
from directory.sync.plan import Plan

# Below this many entries a directory is read in well under a second: no progress line needed.
PROGRESS_FROM = 2000


@click.group("sync")
def sync_group() -> None:
    """Synchronise designated contacts from LDAP / Active Directory."""


@sync_group.command("ldap")
@click.option("--source", "name", required=True, help="Name of the source in the sync configuration.")
@click.option("--dry-run", is_flag=True, help="Show the plan; change nothing.")
@click.option("--force", is_flag=True, help="Apply even if a guard trips (review the dry run first).")
def ldap_command(name: str, dry_run: bool, force: bool) -> None:
    """Sync one LDAP source into its organisation's contacts."""
    _open_database()
    progress = ProgressLine(sys.stderr)
    with db.database.connection_context():
        result = run_source(name, dry_run=dry_run, force=force, progress=progress)
    progress.done()
    if result.plan is not None:
        for line in render_plan(result.plan):
            click.echo(line)
    _report(result)
    sys.exit(result.exit_code)


@sync_group.command("sources")
def sources_command() -> None:
    """List the configured sources and their last runs."""
    _open_database()
    try:
        sources = load_sources(config_path())
    except ConfigurationError as exc:
        click.echo(f"configuration error: {exc.message}", err=True)
        sys.exit(EXIT_CODES["config_error"])
    with db.database.connection_context():
        for name, source in sources.items():
            click.echo(f"{name}: {source.profile} {source.url} -> {source.organisation} "
                       f"(every {source.schedule_minutes} min, max deactivation ratio "
                       f"{source.max_deactivation_ratio})")
            runs = recent_runs(name, limit=3)
            if not runs:
                click.echo("  never run")
            for run in runs:
                click.echo(f"  {_when(run['started_at'])}  {run['outcome']:<13} {run['message']}")


def _open_database() -> None:
    # Imported here: directory.cli imports this module while it is being initialised.
    from directory.cli import setup

    try:
        setup()
    except ConfigurationError as exc:
        click.echo(f"configuration error: {exc.message}", err=True)
        sys.exit(EXIT_CODES["config_error"])


def _report(result: SyncResult) -> None:
    ok = result.exit_code == 0
    labels = {"config_error": "configuration error", "guard_tripped": "guard tripped",
              "ldap_error": "LDAP error", "incomplete": "incomplete result"}
    label = labels.get(result.outcome, result.outcome)
    suffix = "" if ok or result.outcome == "config_error" else " Nothing was changed."
    click.echo(f"{label}: {result.message}{suffix}", err=not ok)


def render_plan(plan: Plan) -> list[str]:
    """The plan as lines for a terminal: every value is cleaned again, as LDAP values are untrusted."""
    lines = [f"plan for source {plan.source!r} -> {plan.organisation} (version {plan.base_version})",
             f"  {plan.entries_read} entries read, {plan.designated} in configured groups, "
             f"{plan.active_before} active contacts from this source"]
    lines += [f"  note: {_safe(n)}" for n in plan.notes]
    for add in plan.additions:
        c = add.contact
        types = c["authorised_request_types"] or c["handles_request_types"]
        lines.append(f"  + add        {_safe(c['display_name'])} <{c['email']}> [{', '.join(types)}]"
                     + (" emergency" if c["emergency"] else ""))
        lines += [f"      note: {_safe(n)}" for n in add.notes]
    for update in plan.updates:
        changes = "; ".join(f"{field}: {_value(old)} -> {_value(new)}"
                            for field, (old, new) in update.changes.items())
        lines.append(f"  ~ update     {_safe(update.display_name)}: {changes}")
        lines += [f"      note: {_safe(n)}" for n in update.notes]
    for gone in plan.deactivations:
        lines.append(f"  - deactivate {_safe(gone.display_name)} ({gone.contact_id}): {gone.reason}")
    for skip in plan.skipped:
        lines.append(f"  ! skip       {_safe(skip.dn)}: {_safe(skip.reason)}")
    lines.append(f"  {len(plan.additions)} to add, {len(plan.updates)} to update, "
                 f"{len(plan.deactivations)} to deactivate, {len(plan.skipped)} skipped")
    return lines


def _safe(text: str) -> str:
    return clean_text(str(text), 300)[0]


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return "[" + ", ".join(_safe(str(v)) for v in value) + "]"
    return _safe(str(value))


def _when(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


class ProgressLine:
    """Entries read so far, on stderr: rewritten in place on a terminal, a line per 10,000 otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.shown = False
        self.last_line = 0
        self.last_time = 0.0

    def __call__(self, count: int) -> None:
        if count < PROGRESS_FROM:
            return
        if self.tty:
            now = time.monotonic()
            if now - self.last_time >= 0.2:
                self.stream.write(f"\rreading the directory: {count} entries")
                self.stream.flush()
                self.last_time, self.shown = now, True
        elif count - self.last_line >= 10_000:
            self.stream.write(f"reading the directory: {count} entries\n")
            self.last_line = count

    def done(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
