"""`directory scheduler` (the one process that runs scheduled jobs) and `directory jobs list|run`."""

from __future__ import annotations

import sys

import click

from directory.cli import setup, with_database
from directory.documents import iso


@click.command("scheduler")
@click.option("--only", multiple=True, help="Run only these jobs (repeatable; default: all).")
@click.option("--run-for", type=float, default=None, help="Stop after this many seconds (smoke tests).")
def scheduler_command(only: tuple[str, ...], run_for: float | None) -> None:
    """Run the scheduled jobs (one process per deployment; leases make a second one harmless)."""
    import logging

    from directory import logs, scheduler

    settings = setup()
    logging.basicConfig(level=settings["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logs.configure(settings["LOG_LEVEL"])  # the directory's own lines as JSON, like `directory serve`
    try:
        scheduler.run(only, run_for)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


@click.group("jobs")
def jobs_group() -> None:
    """Scheduled jobs: their last runs, and running one by hand."""


@jobs_group.command("list")
@with_database
def list_command() -> None:
    """Every registered job with its interval and last run."""
    from directory import jobs, scheduler

    registered = scheduler.registered()
    last = jobs.last_runs(sorted(registered))
    for name, job in sorted(registered.items()):
        run = last.get(name)
        seen = (f"{iso(run.started_at)} {run.outcome}: {run.summary}" if run is not None else "never run")
        click.echo(f"{name:<24} every {job.interval:>6}s  last: {seen}")


@jobs_group.command("run")
@click.argument("name")
@with_database
def run_command(name: str) -> None:
    """Run one job now, under its lease (exit 1 when it failed, 3 when another process holds it)."""
    from directory import jobs, scheduler

    job = scheduler.registered().get(name)
    if job is None:
        click.echo(f"error: no job {name!r} (see `directory jobs list`)", err=True)
        sys.exit(2)
    run = jobs.run(job, scheduled=False)
    if run is None:
        click.echo(f"{name}: another process is running it now", err=True)
        sys.exit(3)
    click.echo(f"{name}: {run.outcome}: {run.summary}")
    sys.exit(0 if run.outcome == "ok" else 1)
