"""`directory audit verify`: walk the hash-chained audit log and name the first row that does not fit.

Exit status 0 when the chain is intact, 1 when a row was edited, deleted or reordered, so a cron job or a
monitoring check can alert on it.
"""

from __future__ import annotations

import sys

import click

from directory import audit
from directory.cli import with_database


@click.group("audit")
def audit_group() -> None:
    """The audit trail."""


@audit_group.command("verify")
@with_database
def verify() -> None:
    """Check the hash chain of the audit log; exit 1 naming the first broken row."""
    report = audit.verify()
    if report.ok:
        click.echo(f"audit log intact: {report.rows} rows")
        return
    click.echo(f"audit log BROKEN at row {report.broken_seq}: {report.reason} "
               f"({report.rows} rows before it verified)", err=True)
    sys.exit(1)
