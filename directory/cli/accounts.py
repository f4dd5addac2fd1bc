"""`directory accounts …`: create accounts (the token is printed once, on the last line), list, revoke,
disable and enable, passwords and TOTP."""

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
@click.option("--email", default=None, help="Where this account's reminders and alerts go (optional).")
def create(role: str, orgs: tuple[str, ...], name: str, email: str | None) -> None:
    """Create an account and print its API token (shown only now)."""
    from directory import accounts
    from directory.cli import with_database

    @with_database
    def run() -> None:
        new = accounts.create(name, role, list(orgs), ADMIN_CLI, email=email)
        click.echo(f"account {new.account_id} ({new.role}) created; its API token:")
        click.echo(new.token)

    run()


@accounts_group.command("list")
def list_() -> None:
    """List accounts: id, role, name, organisations, notification address, active or disabled."""
    from directory import accounts
    from directory.cli import with_database

    @with_database
    def run() -> None:
        for row in accounts.list_accounts().items:
            orgs = ",".join(row["organisations"])
            state = "disabled" if row["disabled"] else "active"
            click.echo(f"{row['id']}\t{row['role']}\t{row['name']}\t{orgs}\t{row['email'] or ''}\t{state}")

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


@accounts_group.command("disable")
@click.argument("account_id", type=int)
def disable(account_id: int) -> None:
    """Disable an account: its tokens and web sessions stop working at once (tokens come back with
    `enable` unless revoked; web sessions do not)."""
    _set_disabled(account_id, True)


@accounts_group.command("enable")
@click.argument("account_id", type=int)
def enable(account_id: int) -> None:
    """Enable a disabled account again."""
    _set_disabled(account_id, False)


def _set_disabled(account_id: int, disabled: bool) -> None:
    from directory import accounts
    from directory.cli import with_database

    @with_database
    def run() -> None:
        accounts.set_disabled(account_id, disabled, ADMIN_CLI)
        click.echo(f"account {account_id} {'disabled' if disabled else 'enabled'}")

    run()


@accounts_group.command("set-password")
@click.argument("account_id", type=int)
@click.password_option(help="New password (at least 12 characters); prompted for when not given.")
def set_password(account_id: int, password: str) -> None:
    """Set the web sign-in password of an account (argon2 hash; ends its open web sessions)."""
    from directory import accounts
    from directory.cli import with_database

    @with_database
    def run() -> None:
        accounts.set_password(account_id, password, ADMIN_CLI)
        click.echo(f"password of account {account_id} set")

    run()


@accounts_group.command("enable-totp")
@click.argument("account_id", type=int)
def enable_totp(account_id: int) -> None:
    """Give an account a new TOTP secret and print it with its otpauth:// URI (shown only now)."""
    from directory import runtime
    from directory.cli import with_database
    from directory.web import signin

    @with_database
    def run() -> None:
        secret = signin.enable_totp(account_id, ADMIN_CLI)
        issuer = f"Contact-point directory {runtime.settings()['NODE_ID']}"
        click.echo(f"TOTP enabled for account {account_id}; add it to the authenticator app:")
        click.echo(signin.provisioning_uri(account_id, secret, issuer))
        click.echo(secret)

    run()
