"""SQLite writers queue on a lock file beside the database, shared with other processes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from directory import db, migrations
from directory.models.accounts import ReadUsage

# A separate process, so the lock is a different open file description (as a second gunicorn worker).
PROBE = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
if sys.argv[2] == "try":
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit(3)
    sys.exit(0)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[3]))
"""


@pytest.fixture
def sqlite_file(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "directory.db"
    db.open_database(f"sqlite:///{path}")
    db.connect()
    migrations.migrate()
    yield path
    db.close_database()


def _can_lock(lock: Path) -> bool:
    """Whether another process can take the lock file right now."""
    code = subprocess.run([sys.executable, "-c", PROBE, str(lock), "try", "0"], timeout=30, check=False)
    assert code.returncode in (0, 3)
    return code.returncode == 0


def test_a_write_holds_the_lock_file_against_other_processes(sqlite_file: Path) -> None:
    lock = Path(f"{sqlite_file}-writer.lock")
    with db.write():
        ReadUsage.create(account_id=1, hour=1, count=1)
        assert lock.exists()
        assert not _can_lock(lock)  # another process must wait
    assert _can_lock(lock)  # released with the transaction
    assert ReadUsage.select().count() == 1


def test_a_lock_held_past_the_busy_timeout_does_not_stop_writes(sqlite_file: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # A process holding only the lock file (not SQLite's lock) cannot block writers for ever: after the
    # busy timeout the write goes ahead and SQLite's own locking decides.
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 300)
    holder = subprocess.Popen([sys.executable, "-c", PROBE, f"{sqlite_file}-writer.lock", "hold", "30"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with db.write():
            ReadUsage.create(account_id=1, hour=2, count=1)
        assert time.monotonic() - started >= 0.3
        assert ReadUsage.select().count() == 1
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
