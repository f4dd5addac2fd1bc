"""`directory freshness check`: the report of how current the entries are (always exits 0)."""

from __future__ import annotations

import json

import click

from directory.cli import with_database


@click.group("freshness")
def freshness_group() -> None:
    """How current the directory's entries are."""


@freshness_group.command("check")
@click.option("--limit", default=20, show_default=True, help="How many of the worst entries to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_database
def check_command(limit: int, as_json: bool) -> None:
    """Counts per status and the worst entries first, with their reasons."""
    from directory import freshness

    report = freshness.report(limit=limit)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        return
    click.echo(f"{report.total} entries at {report.as_dict()['checked_at']}: " +
               ", ".join(f"{count} {status}" for status, count in report.counts.items()))
    for item in report.worst:
        click.echo(f"{item['status']:<12} {item['name']} ({item['id']})")
        for reason in item["status_reasons"]:
            click.echo(f"             - {reason}")
