"""`directory peers …` and `directory federation …`: pin peers, list them, pull from them.

Exit codes: 0 done; 1 refused or failed (the reason is printed; for pulls, at least one peer failed).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from directory.actors import Actor

ADMIN_CLI = Actor.system("cli")


@click.group("peers")
def peers_group() -> None:
    """Peer nodes: pinned by key fingerprint, with the scope accepted from each."""


@peers_group.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--fingerprint", required=True, help="The peer's node key fingerprint, exchanged out of band.")
@click.option("--countries", default="", help="Accept only these countries, e.g. DE,FR (default: any).")
@click.option("--kinds", default="", help="Accept only these organisation kinds (default: any).")
def add(name: str, url: str, fingerprint: str, countries: str, kinds: str) -> None:
    """Pin a peer: its descriptor's key must have exactly this fingerprint."""
    from directory.cli import with_database
    from directory.federation import peers

    @with_database
    def run() -> None:
        peer = peers.add(name, url, fingerprint, ADMIN_CLI, countries=countries, kinds=kinds)
        click.echo(f"peer {peer.name} added: {peer.node_id}, key {peer.fingerprint}")

    run()


@peers_group.command("list")
def list_() -> None:
    """List peers with their last good checkpoint and last error."""
    from directory.cli import with_database
    from directory.federation import peers

    @with_database
    def run() -> None:
        for info in peers.listing():
            scope = f"countries={info.countries or '*'} kinds={info.kinds or '*'}"
            valid = _when(info.valid_until)
            click.echo(f"{info.name}\t{info.url}\t{info.fingerprint}\t{scope}\tsize={info.size}\t"
                       f"valid_until={valid}\tlast_error={info.last_error or '-'}")

    run()


@peers_group.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Forget a peer (its entries stay, read-only, and show as source_stale)."""
    from directory.cli import with_database
    from directory.federation import peers

    @with_database
    def run() -> None:
        peers.remove(name, ADMIN_CLI)
        click.echo(f"peer {name} removed")

    run()


@click.group("federation")
def federation_group() -> None:
    """Federation with peer nodes."""


@federation_group.command("pull")
@click.option("--peer", "name", default=None, help="Pull only this peer (default: every peer).")
def pull(name: str | None) -> None:
    """Pull peers now: verify, then apply everything or nothing."""
    from directory.cli import with_database
    from directory.federation import pull as pulling

    @with_database
    def run() -> None:
        results = [pulling.pull_peer(name)] if name else pulling.pull_all()
        for result in results:
            if result.ok:
                click.echo(f"{result.peer}: ok, {result.applied} applied, journal size {result.size}")
            else:
                label = "REFUSED (attack)" if result.attack else "failed"
                click.echo(f"{result.peer}: {label}: {result.reason}", err=True)
        if not all(r.ok for r in results):
            sys.exit(1)

    run()


def _when(epoch: int | None) -> str:
    return "-" if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
