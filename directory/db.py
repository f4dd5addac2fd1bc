"""Database handle, connections and transactions.

One `DatabaseProxy` for the whole process, initialised from a URL by the entry points. SQLite keeps one
connection per thread with its pragmas set once (TRAPS.md 26); PostgreSQL uses peewee's pool. Writes go
through `write()`: on SQLite an IMMEDIATE transaction, so a read-then-write never fails with "database is
locked" under WAL (TRAPS.md 23).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import peewee
from playhouse.db_url import connect as connect_url

database = peewee.DatabaseProxy()

BUSY_TIMEOUT_MS = 10000
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": BUSY_TIMEOUT_MS,
    # NORMAL is durable across process crashes in WAL mode; only an OS crash may lose the last commit.
    "synchronous": "normal",
    # 32 MiB of page cache per connection (one per worker thread), allocated as pages are read: search
    # p95 on 100,000 organisations fell from 14-19 ms at 16 MiB to 12-15 ms (bench/search.py).
    "cache_size": -32768,
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
        _writers.use(f"{path}-writer.lock" if path and path != ":memory:" else None)
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


class _WriterLock:
    """Queues this process's SQLite writers behind one another's, and behind other processes' writers.

    SQLite has one writer at a time, and a writer that finds the lock taken sleeps in SQLite's busy
    handler (1, 2, 5 ... 100 ms steps) however soon the lock is free: with two API workers each writing
    an audit row per read, those sleeps, not the work, set the lookup's tail latency (bench/throughput.py).
    Threads of one process queue on a mutex; processes on an advisory lock file beside the database,
    polled in steps of 50 µs to 2 ms. After the busy timeout the write goes ahead without it and SQLite's
    own locking decides, so a writer that does not use this lock (another tool) can only slow us down.
    """

    def __init__(self) -> None:
        self.threads = threading.Lock()
        self.path: str | None = None
        self._fd: int | None = None
        self._pid = 0

    def use(self, path: str | None) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd, self.path = None, path

    def _file(self) -> int | None:
        # Opened per process: a descriptor inherited across fork would share its lock with the parent.
        if self.path is not None and (self._fd is None or self._pid != os.getpid()):
            self._fd, self._pid = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
        return self._fd

    @contextmanager
    def held(self) -> Iterator[None]:
        with self.threads:
            fd = self._file()
            locked = fd is not None and _flock(fd)
            try:
                yield
            finally:
                if locked and fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)


def _flock(fd: int) -> bool:
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.00005
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.002)


_writers = _WriterLock()


@contextmanager
def write() -> Iterator[None]:
    """A write transaction (nested calls become savepoints)."""
    db: Any = database.obj
    if isinstance(db, peewee.SqliteDatabase) and not db.in_transaction():
        with _writers.held(), db.atomic("IMMEDIATE"):
            yield
    else:
        with db.atomic():
            yield


def for_update(query: Any) -> Any:
    """`query` locking the rows it reads until the write transaction ends, for a read-then-write on
    PostgreSQL; SQLite's IMMEDIATE write transaction already serialises writers."""
    return query if is_sqlite() else query.for_update()


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


def run_many(sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Execute one raw `?`-parameterised statement for every row of parameters (one prepared statement)."""
    database.cursor().executemany(_native(sql, database.param), rows)


def insert_rows(model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows of one model, all with the same fields.

    On SQLite one prepared statement is executed for every row (peewee would compose a statement per
    500 rows, which cost a 20,000-user LDAP roster more than SQLite's work: bench/ldap_sync.py); on
    PostgreSQL multi-row statements of 500 keep the round trips few.
    """
    if not rows:
        return
    if not is_sqlite():
        for start in range(0, len(rows), 500):
            model.insert_many(rows[start:start + 500]).execute()
        return
    names = list(rows[0])
    fields = [model._meta.fields[name] for name in names]
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    marks = ", ".join("?" * len(fields))
    # Table and column names come from the model's definition, never from data.
    sql = f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES ({marks})'  # noqa: S608
    run_many(sql, [[f.db_value(row[name]) for f, name in zip(fields, names, strict=True)] for row in rows])


def connect() -> None:
    database.connect(reuse_if_open=True)


def release() -> None:
    """End of a request: pooled PostgreSQL connections go back to the pool; SQLite keeps its connection."""
    if not is_sqlite() and not database.is_closed():
        database.close()
