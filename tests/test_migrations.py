"""Migration steps bring a database made by an older release up to the models, keeping its rows."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from directory import db, migrations
from directory.federation import journal
from directory.keys import parse_canonical
from directory.models.accounts import Account
from directory.models.entries import EntryVersion
from directory.models.federation import JournalLeaf
from tests.conftest import row_counts


def test_step_7_gives_existing_accounts_a_totp_step(app: Flask, token_for: Callable[..., str]) -> None:
    token_for("reader")
    # The database as release 6 left it: no column, step 7 not recorded.
    db.database.execute_sql("ALTER TABLE account DROP COLUMN totp_last_step")
    migrations.SchemaMigration.delete().where(migrations.SchemaMigration.step == 7).execute()
    assert [step for step, _ in migrations.pending()] == [7]
    migrations.migrate()
    assert not migrations.pending()
    assert [a.totp_last_step for a in Account.select()] == [0]


def _unique_version_indexes() -> list[str]:
    return [i.name for i in db.database.get_indexes(JournalLeaf._meta.table_name)
            if i.unique and set(i.columns) == {"entry_id", "version"}]


def test_step_9_lets_a_version_be_journaled_again(app: Flask, make_org: Callable[..., str]) -> None:
    make_org()
    # The database as release 8 left it: one leaf per entry version, step 9 not recorded.
    db.database.execute_sql("CREATE UNIQUE INDEX journal_leaf_entry_id_version ON journal_leaf "
                            "(entry_id, version)")
    migrations.SchemaMigration.delete().where(migrations.SchemaMigration.step == 9).execute()
    assert _unique_version_indexes() and [step for step, _ in migrations.pending()] == [9]
    before = (row_counts(), [(x.seq, x.leaf, x.head) for x in JournalLeaf.select().order_by(JournalLeaf.seq)])
    migrations.migrate()
    assert not migrations.pending() and not _unique_version_indexes()
    assert before == (row_counts(), [(x.seq, x.leaf, x.head)
                                     for x in JournalLeaf.select().order_by(JournalLeaf.seq)])
    version = EntryVersion.get()
    # A second leaf for the version (as when its organisation signs it) now fits.
    journal.append(parse_canonical(bytes(version.payload)), bytes(version.payload), version.signatures)
    assert [(x.entry_id, x.version) for x in JournalLeaf.select()] == [(version.entry_id, 1)] * 2
