"""Anonymous rate limit: search and resolve requests per client address and minute (ANON_RATE).

Counters live in the database (`RateCounter`), so every worker and host behind the proxy counts the
same requests; one upsert per anonymous request. Fixed one-minute windows: simple, and the answer's
`Retry-After` is the time to the next window. Accounts are not limited here (their restricted reads
have the per-account quota, `directory.quota`). ANON_RATE=0 switches the limit off.
"""

from __future__ import annotations

from directory import db, runtime
from directory.actors import Actor
from directory.errors import TooManyRequests
from directory.models.search import RateCounter

WINDOW = 60


def spend(actor: Actor) -> None:
    """Count one request of an anonymous actor; 429 (with Retry-After) past ANON_RATE per minute."""
    limit = int(runtime.settings()["ANON_RATE"])
    if actor.kind != "anonymous" or limit <= 0:
        return
    client = (actor.client or "unknown")[:64]
    now = runtime.now()
    window = now // WINDOW
    with db.write():
        RateCounter.insert(client=client, window=window, count=1).on_conflict(
            conflict_target=[RateCounter.client, RateCounter.window],
            update={RateCounter.count: RateCounter.count + 1}).execute()
        count = int(RateCounter.select(RateCounter.count).where(
            (RateCounter.client == client) & (RateCounter.window == window)).scalar())
        if count == 1:  # first request of this client in the window: drop its (and others') old windows
            RateCounter.delete().where(RateCounter.window < window - 1).execute()
    if count > limit:
        raise TooManyRequests(f"more than {limit} anonymous requests per minute from your address; "
                              "sign in with an account or wait", (window + 1) * WINDOW - now)
