"""Migration steps bring a database made by an older release up to the models, keeping its rows."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from directory import db, migrations
from directory.models.accounts import Account


def test_step_7_gives_existing_accounts_a_totp_step(app: Flask, token_for: Callable[..., str]) -> None:
    token_for("reader")
    # The database as release 6 left it: no column, step 7 not recorded.
    db.database.execute_sql("ALTER TABLE account DROP COLUMN totp_last_step")
    migrations.SchemaMigration.delete().where(migrations.SchemaMigration.step == 7).execute()
    assert [step for step, _ in migrations.pending()] == [7]
    migrations.migrate()
    assert not migrations.pending()
    assert [a.totp_last_step for a in Account.select()] == [0]
