"""`directory keys ...`: the node key, and checking keys and signatures under the directory's policy.

Exit codes are part of the interface (scripts branch on them): 0 good, 1 checked and not good (the
reason is printed), 2 the input could not be read at all.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import NoReturn

import click

from directory import config
from directory.errors import DirectoryError
from directory.keys import (
    SignatureResult,
    UnreadableKey,
    UnreadableSignature,
    init_node_key,
    inspect_key,
    load_node_key,
    verify_clearsigned,
    verify_detached,
)
from directory.keys.cleartext import parse_clearsigned
from directory.keys.signature import read_signatures

EXIT_OK, EXIT_NOT_OK, EXIT_UNREADABLE = 0, 1, 2
_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group("keys")
def keys_group() -> None:
    """OpenPGP keys: the node key, and checking keys and signatures under the directory's policy."""


@keys_group.command("init-node")
def init_node() -> None:
    """Generate this node's Ed25519 key into the instance folder (never overwrites one)."""
    settings = config.resolve()
    try:
        key = init_node_key(settings["INSTANCE_PATH"], settings["NODE_ID"])
    except DirectoryError as exc:
        _fail(exc.message, EXIT_NOT_OK)
    click.echo(f"node key created: {key.fingerprint}")
    click.echo("give this fingerprint to the administrators of peer nodes (out of band) to pin")


@keys_group.command("show-node")
def show_node() -> None:
    """Print the node key's fingerprint, then its armored public key."""
    settings = config.resolve()
    try:
        key = load_node_key(settings["INSTANCE_PATH"])
    except DirectoryError as exc:
        _fail(exc.message, EXIT_NOT_OK)
    if key is None:
        _fail("no node key yet; run `directory keys init-node`", EXIT_NOT_OK)
    click.echo(key.fingerprint)
    click.echo(key.public_armored.rstrip("\n"))


@keys_group.command("check")
@click.argument("keyfile", type=_FILE)
def check(keyfile: Path) -> None:
    """Show a public key as the directory's policy sees it; exit 0 when usable for signing."""
    try:
        info = inspect_key(keyfile.read_bytes())
    except UnreadableKey as exc:
        _fail(exc.message, EXIT_UNREADABLE)
    click.echo(f"fingerprint: {info.fingerprint}")
    click.echo(f"algorithm:   {info.algorithm}")
    click.echo(f"created:     {_when(info.created)}")
    click.echo(f"expires:     {_when(info.expires) if info.expires else 'never'}")
    revoked = f"yes ({info.revocation_reason})" if info.revoked and info.revocation_reason else (
        "yes" if info.revoked else "no")
    click.echo(f"revoked:     {revoked}")
    for user_id in info.user_ids:
        click.echo(f"user id:     {user_id}")
    for subkey in info.signing_subkeys:
        click.echo(f"signing subkey: {subkey}")
    if info.usable_for_signing:
        click.echo("usable for signing: yes")
        sys.exit(EXIT_OK)
    click.echo(f"usable for signing: no: {info.reason}")
    sys.exit(EXIT_NOT_OK)


@keys_group.command("verify")
@click.option("--key", "keyfiles", type=_FILE, multiple=True, required=True,
              help="Public key (armored or binary); repeat for several.")
@click.option("--signature", "sigfile", type=_FILE,
              help="Detached signature over DATAFILE; without it DATAFILE is a clearsigned message.")
@click.argument("datafile", type=_FILE)
def verify(keyfiles: tuple[Path, ...], sigfile: Path | None, datafile: Path) -> None:
    """Verify a detached signature or a clearsigned message; exit 0 only when valid."""
    keys = [path.read_bytes() for path in keyfiles]
    data = datafile.read_bytes()
    signature = sigfile.read_bytes() if sigfile is not None else None
    try:
        # Unreadable input is exit 2, distinct from a readable signature that fails the policy; the
        # verifiers themselves fail closed and would report both as "invalid".
        for path, key in zip(keyfiles, keys, strict=True):
            try:
                inspect_key(key)
            except UnreadableKey as exc:
                raise UnreadableKey(f"{path}: {exc.message}") from exc
        if signature is not None:
            read_signatures(signature)
        else:
            read_signatures(parse_clearsigned(data).signature)
    except (UnreadableKey, UnreadableSignature) as exc:
        _fail(exc.message, EXIT_UNREADABLE)
    if signature is not None:
        result = verify_detached(data, signature, keys)
    else:
        result, _ = verify_clearsigned(data, keys)
    _report(result)


def _report(result: SignatureResult) -> None:
    if result.ok:
        click.echo(f"valid: {result.reason} ({result.hash_algorithm})")
        sys.exit(EXIT_OK)
    _fail(f"{result.status.replace('_', ' ')}: {result.reason}", EXIT_NOT_OK)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
