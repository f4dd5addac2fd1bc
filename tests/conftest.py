"""Shared fixtures: a real database (SQLite by default, PostgreSQL when DIRECTORY_TEST_DATABASE_URL is
set), a node key made once per session, the app, a client and accounts of every role.

On PostgreSQL each test session (and each xdist worker) gets its own database, created from the URL's
server and dropped at the end, so parallel runs and several developers never share rows.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from directory import accounts, create_app, db, migrations, runtime
from directory.actors import Actor
from directory.models import ALL_MODELS
from tests import factories

REQUIRE_ALL = os.environ.get("DIRECTORY_REQUIRE_ALL") == "1"


def require_tool(path: str, install_hint: str) -> None:
    """Skip when a system tool is missing — or fail, in CI (DIRECTORY_REQUIRE_ALL=1)."""
    if shutil.which(path) is None and not Path(path).exists():
        message = f"{path} is missing: {install_hint}"
        if REQUIRE_ALL:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = os.environ.get("DIRECTORY_TEST_DATABASE_URL", "")
    if not server:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'directory.db'}"
        return
    name = f"cpd_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = server.rpartition("/")
    yield f"{base}/{name}"
    db.close_database()
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def node_instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An instance folder holding a node key, generated once (Ed25519)."""
    from directory.keys import init_node_key

    folder = tmp_path_factory.mktemp("instance")
    init_node_key(folder, "https://node-a.example")
    return folder


@pytest.fixture
def settings(node_instance: Path, database_url: str) -> dict[str, Any]:
    return {
        "ENV": "development",
        "INSTANCE_PATH": str(node_instance),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "NODE_ID": "https://node-a.example",
        "SMTP_URL": "",
        "SYNC_CONFIG": "",
        # Second-admin approval of call-back changes is on by default; feature tests of plain edits turn
        # it off here, tests/test_approvals.py and tests/security/ turn it back on.
        "CALLBACK_APPROVAL": False,
    }


def _empty_tables() -> None:
    tables = [m._meta.table_name for m in ALL_MODELS] + [migrations.SchemaMigration._meta.table_name]
    existing = set(db.database.get_tables())
    if db.is_sqlite():
        db.database.pragma("foreign_keys", 0)
        for table in tables:
            if table in existing:
                db.database.execute_sql(f'DELETE FROM "{table}"')
        db.database.pragma("foreign_keys", 1)
    else:
        present = ", ".join(f'"{t}"' for t in tables if t in existing)
        if present:
            db.database.execute_sql(f"TRUNCATE {present} RESTART IDENTITY CASCADE")


@pytest.fixture
def app(settings: dict[str, Any]) -> Iterator[Flask]:
    application = create_app(settings)
    application.config["TESTING"] = True
    with application.app_context():
        db.connect()
        migrations.migrate()
        try:
            yield application
        finally:
            runtime.set_clock(None)
            db.connect()
            _empty_tables()
            db.close_database()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def clock() -> Iterator[Callable[[float], None]]:
    """Pin the directory's clock: `clock(epoch_seconds)`."""

    def pin(at: float) -> None:
        runtime.set_clock(lambda: at)

    yield pin
    runtime.set_clock(None)


ADMIN = Actor.system("test")


@pytest.fixture
def make_org(app: Flask) -> Callable[..., str]:
    """Create an organisation from factory fields (overrides merged); returns its entry id."""
    from directory import documents, entries

    def make(**overrides: Any) -> str:
        fields = documents.load(factories.organisation(**overrides))
        return entries.create(fields, ADMIN).entry_id

    return make


@pytest.fixture
def token_for(app: Flask) -> Callable[..., str]:
    """A bearer token for a new account: `token_for("reader")`, `token_for("publisher", org_id)`."""

    def make(role: str, *orgs: str) -> str:
        name = f"{role}-{uuid.uuid4().hex[:8]}"
        return accounts.create(name, role, list(orgs), ADMIN).token

    return make


def auth(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def row_counts() -> dict[str, int]:
    """Rows per table: tests compare before/after to prove a refused request changed nothing."""
    return {m.__name__: m.select().count() for m in ALL_MODELS if m.__name__ != "AuditEvent"}


__all__ = ["auth", "require_tool", "row_counts"]
