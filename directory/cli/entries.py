"""`directory entries …`: export a version's signed bytes or envelope, verify an envelope offline."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from directory.errors import DirectoryError


@click.group("entries")
def entries_group() -> None:
    """Export and verify signed entries."""


@entries_group.command("export")
@click.argument("entry_id")
@click.option("--version", type=int, help="Version number (default: the current one).")
@click.option("--canonical", is_flag=True, help="Write the exact signed bytes instead of the envelope.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="File (default stdout).")
def export(entry_id: str, version: int | None, canonical: bool, output: Path | None) -> None:
    """Write a version's envelope (or, with --canonical, its exact signed bytes)."""
    from directory import organisations
    from directory.cli import with_database
    from directory.keys import SignatureRecord, envelope_bytes, make_envelope
    from directory.models.entries import Organisation

    @with_database
    def run() -> None:
        number = version
        if number is None:
            row = Organisation.get_or_none(Organisation.entry_id == entry_id)
            if row is None:
                raise click.ClickException(f"no organisation {entry_id}")
            number = row.version
        stored = organisations.version_row(entry_id, number)
        records = [SignatureRecord(**s) for s in json.loads(stored.signatures)]
        data = bytes(stored.payload) if canonical else envelope_bytes(make_envelope(bytes(stored.payload),
                                                                                    records))
        if output is None:
            sys.stdout.buffer.write(data)
        else:
            output.write_bytes(data)

    run()


@entries_group.command("verify")
@click.argument("envelope_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--node-key", "node_key", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The registrar node's public key (armored or binary), obtained out of band.")
def verify(envelope_file: Path, node_key: Path) -> None:
    """Verify an exported envelope offline with the node key alone (exit 0 valid, 1 invalid, 2 unreadable)."""
    from directory.keys import inspect_key, parse_canonical, verify_envelope

    try:
        key = node_key.read_bytes()
        fingerprint = inspect_key(key).fingerprint
        payload, results = verify_envelope(envelope_file.read_bytes(), {fingerprint: key})
    except DirectoryError as exc:
        click.echo(f"unreadable: {exc.message}", err=True)
        sys.exit(2)
    node_results = [r for r in results if r.key_fpr == fingerprint]
    if not node_results or not all(r.ok for r in node_results):
        reasons = "; ".join(r.reason for r in node_results) or "no signature by this node key"
        click.echo(f"invalid: {reasons}", err=True)
        sys.exit(1)
    doc = parse_canonical(payload)
    click.echo(f"valid: {doc['entry_id']} version {doc['version']} signed by {fingerprint}")
