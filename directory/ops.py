"""Operating the node: liveness and readiness.

Liveness says only that the process answers (no database: a load balancer must not restart every API
process because the database is down). Readiness says whether this process can serve: the database is
reachable, its schema is at the code's last migration step, and the node key (which signs every write)
is present. The probes are unauthenticated, so what fails is named but the details (paths, hosts, driver
messages) go to the log, not to the caller.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import Any

import peewee

from directory import db, migrations, runtime
from directory.errors import DirectoryError

log = logging.getLogger("directory.ops")


class NotReady(DirectoryError):
    status = 503
    code = "not_ready"


def liveness() -> dict[str, str]:
    return {"status": "ok"}


def readiness() -> dict[str, Any]:
    """Every check's verdict; raises NotReady (503) naming the failed ones."""
    failures: dict[str, list[str]] = {}
    checks: dict[str, str] = {}
    steps: tuple[tuple[str, Callable[[], str | None]], ...] = (
        ("database", _database), ("migrations", _migrations), ("node_key", _node_key))
    for name, check in steps:
        if name == "migrations" and "database" in failures:
            problem: str | None = "not checked: the database is unreachable"
        else:
            problem = check()
        checks[name] = problem or "ok"
        if problem:
            failures[name] = [problem]
    if failures:
        raise NotReady("not ready: " + ", ".join(failures), failures)
    return {"status": "ready", "checks": checks}


def _database() -> str | None:
    # A pooled PostgreSQL connection left over from before a restart fails once: drop the idle ones and
    # try a fresh connection before declaring the database unreachable.
    for attempt in (1, 2):
        try:
            _probe()
            return None
        except (peewee.DatabaseError, peewee.InterfaceError, sqlite3.Error, OSError) as exc:
            log.warning("readiness: database probe %d failed: %s", attempt, type(exc).__name__)
            _discard_connections()
    return "unreachable"


def _probe() -> None:
    target: Any = db.database.obj
    if isinstance(target, peewee.SqliteDatabase) and target.database not in ("", ":memory:"):
        # This thread's SQLite connection outlives a moved or deleted file; open the configured path
        # afresh (read-write, never create) to see what a new worker would find.
        with sqlite3.connect(f"file:{target.database}?mode=rw", uri=True, timeout=2) as fresh:
            fresh.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        fresh.close()
    db.database.connect(reuse_if_open=True)
    db.database.execute_sql("SELECT 1").fetchall()


def _discard_connections() -> None:
    target: Any = db.database.obj
    if isinstance(target, peewee.SqliteDatabase):
        return  # reconnecting would create an empty file where the database went missing
    try:
        if not target.is_closed():
            target.close()
    except (peewee.DatabaseError, peewee.InterfaceError):
        pass
    if hasattr(target, "close_idle"):
        target.close_idle()


def _migrations() -> str | None:
    try:
        current = migrations.is_current()
    except peewee.DatabaseError as exc:
        log.warning("readiness: migration check failed: %s", type(exc).__name__)
        return "unknown: the migration table cannot be read"
    return None if current else "pending: run `directory init-db`"


def _node_key() -> str | None:
    try:
        runtime.node_key()
    except DirectoryError as exc:
        log.warning("readiness: node key: %s", exc.message)
        return "missing or unreadable: see the log (`directory keys init-node` makes one)"
    return None
