"""Per-account quota on restricted reads: a scraper with a valid token still cannot copy the directory.

Counted in hourly buckets over a rolling 24 hours. Admins and the node itself are not limited, and
neither are a publisher's reads of its own organisations (charged with a count of 0: audited, not
counted). The quota is against copying the directory, not against keeping one's own entry; and a write is
answered with the entry it wrote, which a spent quota must not refuse after the write was made.
"""

from __future__ import annotations

from collections.abc import Sequence

from directory import db, runtime
from directory.actors import Actor
from directory.errors import TooManyRequests

HOUR = 3600
WINDOW_HOURS = 24


def charge(actor: Actor, reads: Sequence[int]) -> list[TooManyRequests | None]:
    """Count several restricted reads of one actor in order: each is counted, or refused (its 429 in the
    answer) when it would pass the quota. One query and one upsert however many reads (`directory.reads`
    charges the concurrent reads of a process together)."""
    if actor.account_id is None or actor.is_admin or not reads:
        return [None] * len(reads)
    now = runtime.now()
    hour = now // HOUR
    verdicts: list[TooManyRequests | None] = []
    with db.joined():
        buckets = _buckets(actor, hour)
        counted = 0
        for count in reads:
            refused = _refusal(buckets, counted + count, now) if count else None
            if refused is None:
                counted += count
            verdicts.append(refused)
        if not counted:
            return verdicts
        # An upsert, not a read-then-insert: on PostgreSQL two first reads of an hour can both find no
        # bucket (measured by bench/throughput.py: a unique-key 500 at the turn of the hour).
        db.run("INSERT INTO read_usage (account_id, hour, count) VALUES (?, ?, ?)"
               " ON CONFLICT (account_id, hour) DO UPDATE SET count = read_usage.count + excluded.count",
               (actor.account_id, hour, counted))
        if all(h != hour for h, _ in buckets):
            # Buckets that left the window are dropped when an hour's first read opens a new one, not on
            # every read (the sum above ignores them anyway): one statement less in the write lock.
            db.run("DELETE FROM read_usage WHERE account_id = ? AND hour <= ?",
                   (actor.account_id, hour - WINDOW_HOURS))
    return verdicts


def _buckets(actor: Actor, hour: int) -> list[tuple[int, int]]:
    """The actor's (hour, count) buckets inside the rolling window."""
    found = db.rows("SELECT hour, count FROM read_usage WHERE account_id = ? AND hour > ?",
                    (actor.account_id, hour - WINDOW_HOURS))
    return [(h, c) for h, c in found]


def _refusal(buckets: list[tuple[int, int]], more: int, now: int) -> TooManyRequests | None:
    """The 429 for `more` reads on top of `buckets`, or None when the quota allows them."""
    limit = int(runtime.settings()["READ_QUOTA"])
    if sum(count for _, count in buckets) + more <= limit:
        return None
    oldest = min((h for h, _ in buckets), default=now // HOUR)
    retry = max(1, (oldest + WINDOW_HOURS) * HOUR - now)
    return TooManyRequests(f"read quota of {limit} restricted reads per 24 hours reached", retry)
