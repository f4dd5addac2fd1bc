"""Database handle, connections and transactions.

One `DatabaseProxy` for the whole process, initialised from a URL by the entry points. SQLite keeps one
connection per thread with its pragmas set once (TRAPS.md 26); PostgreSQL uses peewee's pool. Writes go
through `write()`: on SQLite an IMMEDIATE transaction, so a read-then-write never fails with "database is
locked" under WAL (TRAPS.md 23).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import peewee
from playhouse.db_url import connect as connect_url

database = peewee.DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10000,
    # NORMAL is durable across process crashes in WAL mode; only an OS crash may lose the last commit.
    "synchronous": "normal",
    "cache_size": -16000,
}


def open_database(url: str) -> peewee.Database:
    """Build (not connect) the database named by `url` and bind the proxy to it."""
    close_database()
    parsed = urlparse(url)
    db: peewee.Database
    if parsed.scheme == "sqlite":
        path = url[len("sqlite:///"):]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = peewee.SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, check_same_thread=False)
    elif parsed.scheme in {"postgres", "postgresql"}:
        pooled = url.replace(f"{parsed.scheme}://", "postgresql+pool://", 1)
        db = connect_url(pooled, max_connections=32, stale_timeout=300, timeout=10)
    else:
        raise ValueError(f"unsupported database URL scheme: {parsed.scheme!r}")
    database.initialize(db)
    return db


def close_database() -> None:
    """Close this thread's connection and, for a pool, every idle pooled connection."""
    current: Any = database.obj
    if current is None:
        return
    if not current.is_closed():
        current.close()
    if hasattr(current, "close_all"):
        current.close_all()


def is_sqlite() -> bool:
    return isinstance(database.obj, peewee.SqliteDatabase)


# SQLite has one writer at a time; a thread that finds the write lock taken sleeps in SQLite's busy
# handler (1, 2, 5 ... 100 ms steps) however soon the lock is free. Threads of one process queue on this
# lock instead, so only the other processes' writers ever wait in the busy handler.
_sqlite_writer = threading.Lock()


@contextmanager
def write() -> Iterator[None]:
    """A write transaction (nested calls become savepoints)."""
    db: Any = database.obj
    if isinstance(db, peewee.SqliteDatabase) and not db.in_transaction():
        with _sqlite_writer, db.atomic("IMMEDIATE"):
            yield
    else:
        with db.atomic():
            yield


@contextmanager
def joined() -> Iterator[None]:
    """Join the caller's transaction, or open a write transaction when there is none.

    Unlike a nested `write()` this makes no savepoint: for appends (audit, quota) whose failure must undo
    the caller's whole transaction anyway, two statements less per read.
    """
    if database.in_transaction():
        yield
    else:
        with write():
            yield


# Hot paths (every authenticated read) use plain parameterised SQL: peewee spends several times longer
# composing a statement than SQLite takes to run it (profile in bench/results.md, issue 9). Statements use
# `?` placeholders and are translated once per text for PostgreSQL's `%s`.
@lru_cache(maxsize=256)
def _native(sql: str, param: str) -> str:
    return sql if param == "?" else sql.replace("?", param)


def rows(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Every row of a raw `?`-parameterised statement."""
    return list(database.execute_sql(_native(sql, database.param), params).fetchall())


def run(sql: str, params: Sequence[Any] = ()) -> int:
    """Execute a raw `?`-parameterised statement; the number of rows it changed."""
    return int(database.execute_sql(_native(sql, database.param), params).rowcount)


def connect() -> None:
    database.connect(reuse_if_open=True)


def release() -> None:
    """End of a request: pooled PostgreSQL connections go back to the pool; SQLite keeps its connection."""
    if not is_sqlite() and not database.is_closed():
        database.close()
