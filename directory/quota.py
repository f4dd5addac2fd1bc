"""Per-account quota on restricted reads: a scraper with a valid token still cannot copy the directory.

Counted in hourly buckets over a rolling 24 hours. Admins and the node itself are not limited.
"""

from __future__ import annotations

from directory import db, runtime
from directory.actors import Actor
from directory.errors import TooManyRequests
from directory.models.accounts import ReadUsage

HOUR = 3600
WINDOW_HOURS = 24


def spend(actor: Actor, reads: int = 1) -> None:
    """Count `reads` restricted reads for the actor, refusing (429) past the configured quota."""
    if actor.account_id is None or actor.is_admin:
        return
    limit = int(runtime.settings()["READ_QUOTA"])
    hour = runtime.now() // HOUR
    with db.write():
        buckets = list(ReadUsage.select().where(
            (ReadUsage.account_id == actor.account_id) & (ReadUsage.hour > hour - WINDOW_HOURS))
            .order_by(ReadUsage.hour))
        used = sum(b.count for b in buckets)
        if used + reads > limit:
            oldest = buckets[0].hour if buckets else hour
            retry = max(1, (oldest + WINDOW_HOURS) * HOUR - runtime.now())
            raise TooManyRequests(f"read quota of {limit} restricted reads per 24 hours reached", retry)
        current = next((b for b in buckets if b.hour == hour), None)
        if current is not None:
            ReadUsage.update(count=ReadUsage.count + reads).where(ReadUsage.id == current.id).execute()
            return
        # On PostgreSQL two first reads of an hour can both find no bucket (measured by bench/http.py: a
        # unique-key 500 at the turn of the hour): the second one adds to the first one's row.
        ReadUsage.insert(account_id=actor.account_id, hour=hour, count=reads).on_conflict(
            conflict_target=[ReadUsage.account_id, ReadUsage.hour],
            update={ReadUsage.count: ReadUsage.count + reads}).execute()
        # Buckets that left the window are dropped when an hour's first read opens a new one, not on
        # every read (the sum above ignores them anyway): one statement less in the write lock.
        ReadUsage.delete().where((ReadUsage.account_id == actor.account_id) &
                                 (ReadUsage.hour <= hour - WINDOW_HOURS)).execute()
