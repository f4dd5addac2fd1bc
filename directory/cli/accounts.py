"""`directory accounts …`: create accounts (the token is printed once, on the last line), list, revoke."""

from __future__ import annotations

import click

from directory.actors import Actor

ADMIN_CLI = Actor.system("cli")


@click.group("accounts")
def accounts_group() -> None:
    """Manage accounts and API tokens."""


@accounts_group.command("create")
@click.option("--role", required=True, type=click.Choice(["admin", "publisher", "reader"]))
@click.option("--org", "orgs", multiple=True, help="Organisation id (publishers; repeatable).")
@click.option("--name", required=True)
def create(role: str, orgs: tuple[str, ...], name: str) -> None:
    """Create an account and print its API token (shown only now)."""
    from directory import accounts
    from directory.cli import with_database

    @with_database
    def run() -> None:
        new = accounts.create(name, role, list(orgs), ADMIN_CLI)
        click.echo(f"account {new.account_id} ({new.role}) created; its API token:")
        click.echo(new.token)

    run()


@accounts_group.command("list")
def list_() -> None:
    """List accounts."""
    from directory import accounts
    from directory.cli import with_database

    @with_database
    def run() -> None:
        for row in accounts.list_accounts():
            orgs = ",".join(row["organisations"])  # type: ignore[arg-type]
            click.echo(f"{row['id']}\t{row['role']}\t{row['name']}\t{orgs}")

    run()


@accounts_group.command("revoke")
@click.argument("account_id", type=int)
def revoke(account_id: int) -> None:
    """Revoke every token of an account."""
    from directory import accounts
    from directory.cli import with_database

    @with_database
    def run() -> None:
        click.echo(f"{accounts.revoke_tokens(account_id, ADMIN_CLI)} token(s) revoked")

    run()
