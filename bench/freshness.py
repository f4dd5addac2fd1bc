"""Benchmark: the freshness pass over 100,000 generated entries (target ≤ 10 s, DESIGN.md).

Generates Organisation rows directly (projected state, with freshness clocks: keys, emergency lines,
LDAP sources), then times
  1. `freshness.report()`   — the status of every entry (what `directory freshness check` prints),
  2. `freshness.check()`    — the scheduled pass, first run (findings and reminders written),
  3. `freshness.check()`    — the steady-state hourly pass (nothing new to tell).

    python -P bench/freshness.py [--entries 100000] [--database-url postgresql://postgres@127.0.0.1:5432/test]

Without --database-url a temporary SQLite database is used; with a PostgreSQL server URL a temporary
database is created on it and dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from directory import config, db, freshness, migrations, runtime
from directory.models.entries import Contact, Organisation

DAY = 86400
NOW = 1_780_000_000
NODE = "https://bench.example"


@contextmanager
def database(url: str | None) -> Iterator[str]:
    if not url:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    import psycopg

    name = f"cpd_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{url.rpartition('/')[0]}/{name}"
    finally:
        db.close_database()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def row(number: int, rng: random.Random) -> dict[str, Any]:
    """An entry somewhere in its life: confirmed 0-400 days ago, some with keys, lines, LDAP contacts."""
    confirmed = NOW - rng.randint(0, 400) * DAY
    clocks = {
        "keys": [[f"{rng.getrandbits(160):040X}", "organisation", NOW + rng.randint(-30, 700) * DAY]]
        if rng.random() < 0.5 else [],
        "channels": [["phone", NOW - rng.randint(0, 150) * DAY if rng.random() < 0.9 else None]]
        if rng.random() < 0.6 else [],
        "ldap": {f"src{number % 50}": NOW - rng.randint(0, 3) * 3600} if rng.random() < 0.2 else {},
    }
    remote = rng.random() < 0.1
    return {
        "entry_id": f"urn:cpd:bench.example:{uuid.UUID(int=rng.getrandbits(128))}",
        "registrar": "https://peer.example" if remote else NODE, "version": 1, "digest": "0" * 64,
        "deleted": False, "kind": "service_provider", "name": f"Organisation {number:06d}",
        "country": "DE", "timezone": "Europe/Berlin", "iat": confirmed, "confirmed_at": confirmed,
        "not_after": confirmed + 365 * DAY, "public_view": "{}", "reader_view": "{}",
        "freshness": json.dumps(clocks), "source_valid_until": NOW + 3600 if remote else None,
    }


def generate(count: int) -> None:
    """Organisations with one active designated contact each (the reminders' fallback address)."""
    rng = random.Random(6)
    for start in range(0, count, 500):
        batch = [row(number, rng) for number in range(start, min(count, start + 500))]
        contacts = [{"organisation": r["entry_id"], "contact_id": str(uuid.uuid4()), "active": True,
                     "email": f"liaison{n}@org{n}.example", "display_name": "Liaison", "emergency": False,
                     "source": "manual"} for n, r in enumerate(batch, start)]
        with db.write():
            Organisation.insert_many(batch).execute()
            Contact.insert_many(contacts).execute()


def timed(label: str, func: Any) -> Any:
    """Wall time, and this process's CPU time: on a shared, loaded machine the second is the stable
    figure (with SQLite it includes the database's work; PostgreSQL's server CPU is not in it)."""
    start, cpu = time.perf_counter(), time.process_time()
    result = func()
    print(f"{label:<36} {time.perf_counter() - start:7.2f} s  (cpu {time.process_time() - cpu:.2f} s)")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with database(args.database_url) as url, tempfile.TemporaryDirectory() as instance:
        settings = config.resolve({"DATABASE_URL": url, "INSTANCE_PATH": instance, "NODE_ID": NODE,
                                   "SECRET_KEY": "bench", "SMTP_URL": "", "SYNC_CONFIG": ""})
        runtime.configure(settings)
        db.open_database(url)
        runtime.set_clock(lambda: NOW)
        with db.database.connection_context():
            migrations.migrate()
            timed(f"generate {args.entries} entries", lambda: generate(args.entries))
            report = timed("report (status of every entry)", freshness.report)
            print("   ", ", ".join(f"{n} {s}" for s, n in report.counts.items()))
            print("   ", timed("check, first pass", freshness.check))
            print("   ", timed("check, steady state", freshness.check))
        db.close_database()


if __name__ == "__main__":
    main()
