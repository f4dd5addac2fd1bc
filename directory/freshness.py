"""Freshness: how current an entry is, why, and the hourly check that tells people (DESIGN.md: three clocks).

Status per entry, worst first: `expired` (past `not_after`: the signed version is no longer valid),
`source_stale` (a federated entry whose registrar's checkpoint lapsed), `stale` (content out of policy:
not re-confirmed, an emergency line untested, a key expired, LDAP contacts not seen), `due` (one of those
comes within WARN_DAYS, or an emergency line was never tested), `fresh`.

Fast path: `clocks(doc)` is computed once per version by the projection and stored on the `Organisation`
row as a small JSON object of *policy-free instants* (key expiries, channel test times, the oldest LDAP
verification per source); `not_after` and `confirmed_at` are columns already. A read applies the policy
to these integers, so changing CONFIRM_DAYS takes effect at once without rewriting any row.
"""

from __future__ import annotations

import json
import os
from collections import namedtuple
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from directory import runtime
from directory.actors import Actor
from directory.errors import NotFound
from directory.models.entries import EntryVersion, Organisation
from directory.models.sync import SyncRun

DAY = 86400
STATUSES = ("fresh", "due", "stale", "source_stale", "expired")  # ascending severity
RANK = {name: rank for rank, name in enumerate(STATUSES)}
# Sync outcomes that prove LDAP was read completely: every active contact of the source was seen then.
GOOD_SYNC = ("applied", "nothing_to_do")
DEFAULT_SYNC_MINUTES = 60  # a source's schedule when the sync configuration does not name it


@dataclass(frozen=True)
class Policy:
    confirm_days: int
    test_days: int
    warn_days: int
    ldap_intervals: int

    @classmethod
    def from_settings(cls, values: Mapping[str, Any] | None = None) -> Policy:
        s = values if values is not None else runtime.settings()
        return cls(int(s["CONFIRM_DAYS"]), int(s["EMERGENCY_TEST_DAYS"]), int(s["WARN_DAYS"]),
                   int(s["LDAP_VERIFY_INTERVALS"]))


@dataclass(frozen=True)
class Status:
    status: str
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "status_reasons": self.reasons}


@dataclass(frozen=True)
class Deadline:
    """An instant at which something runs out (reminders are sent before it)."""

    what: str
    at: int


def clocks(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The policy-free instants of one entry version (stored as JSON on its Organisation row)."""
    from directory.keys import inspect_key

    keys = []
    for key in doc.get("keys", []):
        try:
            expires = inspect_key(key["public_key"]).expires
        except Exception:  # an unreadable key was refused on input; a federated one is not ours to judge
            expires = None
        if expires is not None:
            keys.append([key["fingerprint"], key.get("use", "organisation"), int(expires.timestamp())])
    channels = [[ch["kind"], ch.get("last_tested_at")] for ch in doc.get("emergency_channels", [])]
    ldap: dict[str, int] = {}
    for contact in doc.get("contacts", []):
        source = contact.get("source", "manual")
        if source.startswith("ldap:") and contact.get("active", True):
            verified = int(contact.get("verified_at") or 0)
            name = source[5:]
            ldap[name] = min(ldap.get(name, verified), verified)
    return {"keys": keys, "channels": channels, "ldap": ldap}


def day(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d")


def moment(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


class _Findings:
    """What is wrong with an entry; texts are formatted only when asked for (a pass over 100,000 entries
    needs the status of each, but the reasons of few). Templates format epochs as UTC datetimes."""

    __slots__ = ("explain", "items", "worst")

    def __init__(self, explain: bool) -> None:
        self.explain = explain
        self.worst = 0
        self.items: list[tuple[int, str]] = []

    def add(self, rank: int, template: str, *epochs: int, extra: str = "") -> None:
        self.worst = max(self.worst, rank)
        if self.explain:
            when = [datetime.fromtimestamp(e, UTC) for e in epochs]
            self.items.append((rank, template.format(*when, extra=extra)))

    def status(self) -> Status:
        if not self.explain:
            return _BARE[self.worst]
        self.items.sort(key=lambda item: -item[0])
        return Status(STATUSES[self.worst], [text for _, text in self.items])


_BARE = [Status(name) for name in STATUSES]
EMPTY_CLOCKS = json.dumps({"keys": [], "channels": [], "ldap": {}})


def _clock(row: Any) -> dict[str, Any]:
    """The parsed clocks of a row (parsed once per pass by `_rows`; parsed here for single reads)."""
    parsed: dict[str, Any] | None = getattr(row, "clock", None)
    if parsed is not None:
        return parsed
    return _parse(row.freshness)


def _parse(text: str | None) -> dict[str, Any]:
    if not text or text in ("{}", EMPTY_CLOCKS):
        return {}
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def evaluate(row: Any, now: int, policy: Policy, *, ldap_seen: Mapping[str, int] | None = None,
             explain: bool = True) -> Status:
    """Status of an Organisation row (or any object with its columns) at `now`, with reasons if `explain`.

    `ldap_seen`: last complete sync per LDAP source; looked up here when not given (reads), preloaded by
    the check (one query for all entries).
    """
    found = _Findings(explain)
    warn = policy.warn_days * DAY
    if now >= row.not_after:
        found.add(RANK["expired"], "entry expired on {0:%Y-%m-%d}", row.not_after)
    elif now >= row.not_after - warn:
        found.add(RANK["due"], "entry expires on {0:%Y-%m-%d}", row.not_after)
    confirm_by = row.confirmed_at + policy.confirm_days * DAY
    if now >= confirm_by:
        found.add(RANK["stale"], "entry not confirmed since {0:%Y-%m-%d}", row.confirmed_at)
    elif now >= confirm_by - warn:
        found.add(RANK["due"], "entry not confirmed since {0:%Y-%m-%d}; re-confirm by {1:%Y-%m-%d}",
                  row.confirmed_at, confirm_by)
    clock = _clock(row)
    if clock:
        _content(found, now, policy, clock, ldap_seen)
    valid_until = getattr(row, "source_valid_until", None)
    if valid_until is not None and now >= valid_until:
        found.add(RANK["source_stale"], "registrar {extra} has published no valid checkpoint since "
                  "{0:%Y-%m-%d %H:%M} UTC", valid_until, extra=row.registrar)
    return found.status()


def _content(found: _Findings, now: int, policy: Policy, clock: dict[str, Any],
             ldap_seen: Mapping[str, int] | None) -> None:
    warn = policy.warn_days * DAY
    for fpr, use, expires in clock.get("keys", []):
        owner = f"{'the organisation' if use == 'organisation' else 'a contact'} ({fpr[-16:]})"
        if now >= expires:
            found.add(RANK["stale"], "key of {extra} expired on {0:%Y-%m-%d}", expires, extra=owner)
        elif now >= expires - warn:
            found.add(RANK["due"], "key of {extra} expires on {0:%Y-%m-%d}", expires, extra=owner)
    for number, (kind, tested) in enumerate(clock.get("channels", []), start=1):
        line = f"emergency line {number} ({kind})"
        if tested is None:
            found.add(RANK["due"], "{extra} has never been tested", extra=line)
            continue
        test_by = tested + policy.test_days * DAY
        if now >= test_by:
            found.add(RANK["stale"], "{extra} untested since {0:%Y-%m-%d}", tested, extra=line)
        elif now >= test_by - warn:
            found.add(RANK["due"], "{extra} untested since {0:%Y-%m-%d}; test it by {1:%Y-%m-%d}", tested,
                      test_by, extra=line)
    if clock.get("ldap"):
        _ldap(found, now, policy, clock["ldap"], ldap_seen)


def _ldap(found: _Findings, now: int, policy: Policy, verified: Mapping[str, int],
          ldap_seen: Mapping[str, int] | None) -> None:
    """LDAP contacts are current while their source syncs: `verified_at` is only restamped on a change
    (or every `reverify_days`), so the last complete sync of the source counts as seeing them too."""
    seen_runs = ldap_seen if ldap_seen is not None else last_good_syncs(verified)
    schedules = sync_schedules()
    for source, oldest in sorted(verified.items()):
        seen = max(oldest, seen_runs.get(source, 0))
        limit = policy.ldap_intervals * schedules.get(source, DEFAULT_SYNC_MINUTES * 60)
        if now >= seen + limit:
            template = "contacts from LDAP source {extra} not seen in LDAP " + (
                "since {0:%Y-%m-%d %H:%M} UTC" if seen else "ever")
            found.add(RANK["stale"], template, *([seen] if seen else []), extra=repr(source))


def last_good_syncs(sources: Iterable[str] | None = None) -> dict[str, int]:
    """Start of the last complete sync per source (the moment LDAP was read)."""
    from peewee import fn

    query = (SyncRun.select(SyncRun.source, fn.MAX(SyncRun.started_at))
             .where(SyncRun.outcome.in_(GOOD_SYNC)).group_by(SyncRun.source))
    if sources is not None:
        query = query.where(SyncRun.source.in_(list(sources)))
    pairs = cast(Iterable[tuple[str, int]], query.tuples())
    return {source: int(started) for source, started in pairs}


_schedule_cache: dict[tuple[str, float], dict[str, int]] = {}


def sync_schedules() -> dict[str, int]:
    """Seconds between runs per configured LDAP source ({} without a readable sync configuration)."""
    path = str(runtime.settings().get("SYNC_CONFIG") or "")
    if not path or not os.path.exists(path):
        return {}
    key = (path, os.path.getmtime(path))
    if key not in _schedule_cache:
        try:
            from directory.sync.config import load_sources

            _schedule_cache[key] = {n: s.schedule_minutes * 60 for n, s in load_sources(path).items()}
        except Exception:  # a broken file is the sync's error to report; here the default applies
            _schedule_cache[key] = {}
    return _schedule_cache[key]


def row_status(row: Organisation, now: int | None = None) -> Status:
    """The status of a current row, as every API answer shows it."""
    return evaluate(row, runtime.now() if now is None else now, Policy.from_settings())


def status(doc: Mapping[str, Any], now: int | None = None, policy: Policy | None = None) -> Status:
    """The status of a document that is not (or not yet) projected: computed from the document itself."""
    row = _DocRow(doc["registrar"], doc["not_after"], doc["confirmed_at"], json.dumps(clocks(doc)), None)
    return evaluate(row, runtime.now() if now is None else now, policy or Policy.from_settings())


@dataclass(frozen=True)
class _DocRow:
    registrar: str
    not_after: int
    confirmed_at: int
    freshness: str
    source_valid_until: int | None


def deadlines(row: Any, policy: Policy) -> list[Deadline]:
    """What runs out when for one row: entry validity, confirmation, keys, emergency line tests."""
    clock = _clock(row)
    out = [Deadline("the entry's signed validity", row.not_after),
           Deadline("the entry's re-confirmation", row.confirmed_at + policy.confirm_days * DAY)]
    out += [Deadline(f"key {fpr[-16:]}", expires) for fpr, _, expires in clock.get("keys", [])]
    out += [Deadline(f"the test of emergency line {n} ({kind})", tested + policy.test_days * DAY)
            for n, (kind, tested) in enumerate(clock.get("channels", []), start=1) if tested is not None]
    return out


def next_change(row: Any, now: int, policy: Policy) -> int | None:
    """The first instant after `now` at which `evaluate` may answer differently for this row, or None
    when that depends on more than the row (LDAP contacts are judged by the source's last sync too)."""
    if _clock(row).get("ldap"):
        return None
    warn = policy.warn_days * DAY
    edges = [edge for deadline in deadlines(row, policy) for edge in (deadline.at - warn, deadline.at)]
    valid_until = getattr(row, "source_valid_until", None)
    if valid_until is not None:
        edges.append(valid_until)
    later = [edge for edge in edges if edge > now]
    return min(later) if later else now + 10 * 365 * DAY


def set_source_valid_until(registrar: str, valid_until: int | None) -> int:
    """Federation hook: after verifying a peer's checkpoint, record until when its entries are current.

    Entries of that registrar become `source_stale` once `valid_until` passes without a new checkpoint.
    Call it inside the transaction that applies the pull; returns the number of rows updated.
    """
    updated: int = (Organisation.update(source_valid_until=valid_until)
                    .where(Organisation.registrar == registrar).execute())
    return updated


def record_test(entry_id: str, index: int, actor: Actor, if_match: str | None) -> Any:
    """Record that emergency channel `index` was tested now: a new signed version (publishers, admins)."""
    from directory import entries

    doc = entries.get_document(entry_id)
    channels = [dict(ch) for ch in doc.get("emergency_channels", [])]
    if not 0 <= index < len(channels):
        raise NotFound(f"organisation {entry_id} has no emergency channel {index}")
    channels[index]["last_tested_at"] = runtime.now()
    return entries.update(entry_id, {"emergency_channels": channels}, actor, if_match=if_match)


def backfill() -> int:
    """Compute the clocks of rows projected before they existed (migration step 2)."""
    from directory.keys import parse_canonical

    count = 0
    rows = Organisation.select(Organisation.entry_id, Organisation.version).where(
        ~Organisation.deleted & (Organisation.freshness == "{}"))
    pairs = cast(Iterable[tuple[str, int]], list(rows.tuples()))
    for entry_id, version in pairs:
        payload = EntryVersion.get((EntryVersion.entry_id == entry_id) & (EntryVersion.version == version))
        doc = parse_canonical(bytes(payload.payload))
        Organisation.update(freshness=json.dumps(clocks(doc))).where(
            Organisation.entry_id == entry_id).execute()
        count += 1
    return count


@dataclass
class Report:
    checked_at: int
    total: int
    counts: dict[str, int]
    worst: list[dict[str, Any]]
    rows: list[tuple[Any, Status]] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"checked_at": moment(self.checked_at), "total": self.total, "counts": self.counts,
                "worst": self.worst}


_COLUMNS = (Organisation.entry_id, Organisation.name, Organisation.registrar, Organisation.version,
            Organisation.not_after, Organisation.confirmed_at, Organisation.freshness,
            Organisation.source_valid_until)


_Row = namedtuple("_Row", [*(c.name for c in _COLUMNS), "clock"])  # type: ignore[misc]


def _rows() -> Iterator[Any]:
    """Current rows as plain tuples straight from the cursor: peewee's per-field conversion would be
    most of the cost of a pass over 100,000 entries."""
    query = Organisation.select(*_COLUMNS).where(~Organisation.deleted)
    sql, params = query.sql()
    cursor = Organisation._meta.database.execute_sql(sql, params)
    while batch := cursor.fetchmany(2000):
        for values in batch:
            yield _Row._make((*values, _parse(values[6])))


def report(now: int | None = None, limit: int = 20, *, keep_rows: bool = False) -> Report:
    """Every current entry's status: counts, and the `limit` worst (most severe, then longest overdue)."""
    now = runtime.now() if now is None else now
    policy = Policy.from_settings()
    seen = last_good_syncs()
    counts = dict.fromkeys(STATUSES, 0)
    ranked: list[tuple[int, int, Any]] = []
    kept: list[tuple[Any, Status]] = []
    for row in _rows():
        result = evaluate(row, now, policy, ldap_seen=seen, explain=False)
        counts[result.status] += 1
        if result.status != "fresh":
            ranked.append((-RANK[result.status], min(row.not_after, row.confirmed_at), row))
        if keep_rows:
            kept.append((row, result))
    ranked.sort(key=lambda item: (item[0], item[1]))
    worst = [{"id": row.entry_id, "name": row.name, "registrar": row.registrar,
              **evaluate(row, now, policy, ldap_seen=seen).as_dict()} for _, _, row in ranked[:limit]]
    return Report(now, sum(counts.values()), counts, worst, kept)


def check(now: int | None = None) -> str:
    """The scheduled pass: reminders to publishers, one digest to admins of entries that newly became
    stale, expired or source-stale (remembered in FreshnessFinding), and a summary line."""
    from directory import db, notifications
    from directory.models.jobs import FreshnessFinding

    now = runtime.now() if now is None else now
    policy = Policy.from_settings()
    result = report(now, keep_rows=True)
    own = str(runtime.settings()["NODE_ID"])
    sql, params = FreshnessFinding.select(FreshnessFinding.entry_id, FreshnessFinding.status,
                                          FreshnessFinding.version).sql()
    cursor = FreshnessFinding._meta.database.execute_sql(sql, params)
    known = {e: (s, v) for e, s, v in cursor.fetchall()}
    newly: list[tuple[Any, Status]] = []
    reminders: list[notifications.Reminder] = []
    cleared: list[str] = []
    for row, status_ in result.rows:
        if row.registrar == own:  # publishers of federated entries are reminded by their own node
            reminders += notifications.due_reminders(row.entry_id, row.name, deadlines(row, policy), now)
        bad = RANK[status_.status] >= RANK["stale"]
        if bad and known.get(row.entry_id) != (status_.status, row.version):
            newly.append((row, status_))
        elif not bad and row.entry_id in known:
            cleared.append(row.entry_id)
    with db.write():
        _remember(newly, cleared, now)
        queued = notifications.remind(reminders, now)
        if newly:
            _tell_admins([(row, evaluate(row, now, policy)) for row, _ in newly[:200]], len(newly), now)
    counts = ", ".join(f"{n} {s}" for s, n in result.counts.items())
    return f"{result.total} entries: {counts}; {queued} reminders queued, {len(newly)} newly stale/expired"


def _remember(newly: list[tuple[Any, Status]], cleared: list[str], now: int) -> None:
    """Keep the last bad status per entry, so the next pass tells admins only about changes."""
    from directory.models.jobs import FreshnessFinding
    from directory.notifications import bulk_insert

    rows = [{"entry_id": r.entry_id, "status": s.status, "version": r.version, "seen_at": now}
            for r, s in newly]
    bulk_insert(FreshnessFinding, rows, "(entry_id) DO UPDATE SET status = excluded.status, "
                "version = excluded.version, seen_at = excluded.seen_at")
    for start in range(0, len(cleared), 500):
        FreshnessFinding.delete().where(FreshnessFinding.entry_id.in_(cleared[start:start + 500])).execute()


def _tell_admins(explained: list[tuple[Any, Status]], total: int, now: int) -> None:
    from directory import notifications

    lines = [f"  {row.name} ({row.entry_id}): {s.status}: {'; '.join(s.reasons)}" for row, s in explained]
    if total > len(explained):
        lines.append(f"  ... and {total - len(explained)} more (`directory freshness check`)")
    notifications.notify_admins(f"{total} directory {'entry' if total == 1 else 'entries'} became stale or "
                                "expired",
                                "The freshness check found:\n\n" + "\n".join(lines) + "\n",
                                f"freshness-digest:{now}")


def check_job() -> str:
    return check()
