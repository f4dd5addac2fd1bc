"""The `directory` command: set up, seed, serve and administer a node.

Each command group lives in its own module; this one assembles them. Commands configure the runtime and
open the database themselves (`create_app` does neither network nor migration work).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from directory import config, db, runtime
from directory.errors import DirectoryError

F = TypeVar("F", bound=Callable[..., Any])


def setup() -> dict[str, Any]:
    """Settings from the environment, runtime configured, database opened (connected lazily)."""
    settings = config.resolve()
    runtime.configure(settings)
    db.open_database(settings["DATABASE_URL"])
    return settings


def with_database(func: F) -> F:
    """Run a command with the directory set up and a connection open; domain errors become exit 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        setup()
        try:
            with db.database.connection_context():
                return func(*args, **kwargs)
        except DirectoryError as exc:
            click.echo(f"error: {exc.message}", err=True)
            for field, problems in exc.errors.items():
                click.echo(f"  {field}: {problems}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@click.group()
def main() -> None:
    """Federated contact-point directory for cybercrime cooperation."""


@main.command("init-db")
@with_database
def init_db() -> None:
    """Create or migrate the database schema."""
    from directory import migrations

    applied = migrations.migrate()
    click.echo("applied: " + ", ".join(applied) if applied else "database is up to date")


@main.command()
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Seed file (default: the demo data set in seeds/).")
@with_database
def seed(path: Path | None) -> None:
    """Load the demo data set (idempotent: existing organisations are left as they are)."""
    from directory import seeding

    report = seeding.load(path)
    click.echo(f"organisations: {report.created} created, {report.existing} already present")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the API and web UI with gunicorn."""
    from directory.server import run

    run(host, port, workers)


def _register() -> None:
    from directory.cli.accounts import accounts_group

    main.add_command(accounts_group)
    for module, name in (("directory.cli.keys", "keys_group"), ("directory.cli.sync", "sync_group"),
                         ("directory.cli.entries", "entries_group"),
                         ("directory.cli.audit", "audit_group"),
                         ("directory.cli.federation", "peers_group"),
                         ("directory.cli.federation", "federation_group")):
        try:
            imported = __import__(module, fromlist=[name])
        except ModuleNotFoundError:
            continue
        main.add_command(getattr(imported, name))
    from directory.cli.freshness import freshness_group
    from directory.cli.jobs import jobs_group, scheduler_command

    for command in (freshness_group, jobs_group, scheduler_command):
        main.add_command(command)


_register()
