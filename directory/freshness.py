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
from collections.abc import Iterable, Mapping
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


def evaluate(row: Any, now: int, policy: Policy, *, ldap_seen: Mapping[str, int] | None = None) -> Status:
    """Status of an Organisation row (or any object with its columns) at `now`.

    `ldap_seen`: last complete sync per LDAP source; looked up here when not given (reads), preloaded by
    the check (one query for all entries).
    """
    found: list[tuple[int, str]] = []
    warn = policy.warn_days * DAY
    clock = json.loads(row.freshness or "{}")
    _expiry(found, now, warn, row.not_after, "expired", "entry expired on {}", "entry expires on {}")
    confirm_by = row.confirmed_at + policy.confirm_days * DAY
    if now >= confirm_by - warn:
        text = f"entry not confirmed since {day(row.confirmed_at)}"
        found.append((RANK["stale"], text) if now >= confirm_by else
                     (RANK["due"], f"{text}; re-confirm by {day(confirm_by)}"))
    for fpr, use, expires in clock.get("keys", []):
        owner = "the organisation" if use == "organisation" else "a contact"
        _expiry(found, now, warn, expires, "stale", f"key of {owner} ({fpr[-16:]}) expired on {{}}",
                f"key of {owner} ({fpr[-16:]}) expires on {{}}")
    for number, (kind, tested) in enumerate(clock.get("channels", []), start=1):
        line = f"emergency line {number} ({kind})"
        if tested is None:
            found.append((RANK["due"], f"{line} has never been tested"))
            continue
        test_by = tested + policy.test_days * DAY
        if now >= test_by - warn:
            text = f"{line} untested since {day(tested)}"
            found.append((RANK["stale"], text) if now >= test_by else
                         (RANK["due"], f"{text}; test it by {day(test_by)}"))
    _ldap(found, now, policy, clock.get("ldap", {}), ldap_seen)
    valid_until = getattr(row, "source_valid_until", None)
    if valid_until is not None and now >= valid_until:
        found.append((RANK["source_stale"], f"registrar {row.registrar} has published no valid checkpoint "
                                            f"since {moment(valid_until)}"))
    if not found:
        return Status("fresh")
    found.sort(key=lambda item: -item[0])
    return Status(STATUSES[found[0][0]], [text for _, text in found])


def _expiry(found: list[tuple[int, str]], now: int, warn: int, at: int, severity: str, past: str,
            coming: str) -> None:
    if now >= at:
        found.append((RANK[severity], past.format(day(at))))
    elif now >= at - warn:
        found.append((RANK["due"], coming.format(day(at))))


def _ldap(found: list[tuple[int, str]], now: int, policy: Policy, verified: Mapping[str, int],
          ldap_seen: Mapping[str, int] | None) -> None:
    """LDAP contacts are current while their source syncs: `verified_at` is only restamped on a change
    (or every `reverify_days`), so the last complete sync of the source counts as seeing them too."""
    if not verified:
        return
    seen_runs = ldap_seen if ldap_seen is not None else last_good_syncs(verified)
    schedules = sync_schedules()
    for source, oldest in sorted(verified.items()):
        seen = max(oldest, seen_runs.get(source, 0))
        limit = policy.ldap_intervals * schedules.get(source, DEFAULT_SYNC_MINUTES * 60)
        if now >= seen + limit:
            since = f"since {moment(seen)}" if seen else "ever"
            found.append((RANK["stale"], f"contacts from LDAP source {source!r} not seen in LDAP {since}"))


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
    clock = json.loads(row.freshness or "{}")
    out = [Deadline("the entry's signed validity", row.not_after),
           Deadline("the entry's re-confirmation", row.confirmed_at + policy.confirm_days * DAY)]
    out += [Deadline(f"key {fpr[-16:]}", expires) for fpr, _, expires in clock.get("keys", [])]
    out += [Deadline(f"the test of emergency line {n} ({kind})", tested + policy.test_days * DAY)
            for n, (kind, tested) in enumerate(clock.get("channels", []), start=1) if tested is not None]
    return out


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


def report(now: int | None = None, limit: int = 20, *, keep_rows: bool = False) -> Report:
    """Every current entry's status: counts, and the `limit` worst (most severe, then longest overdue)."""
    now = runtime.now() if now is None else now
    policy = Policy.from_settings()
    seen = last_good_syncs()
    counts = dict.fromkeys(STATUSES, 0)
    ranked: list[tuple[int, int, Any, Status]] = []
    kept: list[tuple[Any, Status]] = []
    for row in Organisation.select(*_COLUMNS).where(~Organisation.deleted).namedtuples().iterator():
        result = evaluate(row, now, policy, ldap_seen=seen)
        counts[result.status] += 1
        if result.status != "fresh":
            ranked.append((-RANK[result.status], min(row.not_after, row.confirmed_at), row, result))
        if keep_rows:
            kept.append((row, result))
    ranked.sort(key=lambda item: (item[0], item[1]))
    worst = [{"id": row.entry_id, "name": row.name, "registrar": row.registrar, **result.as_dict()}
             for _, _, row, result in ranked[:limit]]
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
    known = {f.entry_id: (f.status, f.version) for f in FreshnessFinding.select()}
    sent = notifications.sent_reminder_keys(now)
    newly: list[tuple[Any, Status]] = []
    reminders = 0
    with db.write():
        for row, status_ in result.rows:
            if row.registrar == own:
                reminders += notifications.remind(row.entry_id, row.name, deadlines(row, policy), now, sent)
            bad = RANK[status_.status] >= RANK["stale"]
            if bad and known.get(row.entry_id) != (status_.status, row.version):
                newly.append((row, status_))
                FreshnessFinding.insert(entry_id=row.entry_id, status=status_.status, version=row.version,
                                        seen_at=now).on_conflict(
                    conflict_target=[FreshnessFinding.entry_id],
                    preserve=[FreshnessFinding.status, FreshnessFinding.version,
                              FreshnessFinding.seen_at]).execute()
            elif not bad and row.entry_id in known:
                FreshnessFinding.delete().where(FreshnessFinding.entry_id == row.entry_id).execute()
        if newly:
            _tell_admins(newly, now)
    counts = ", ".join(f"{n} {s}" for s, n in result.counts.items())
    return f"{result.total} entries: {counts}; {reminders} reminders, {len(newly)} newly stale/expired"


def _tell_admins(newly: list[tuple[Any, Status]], now: int) -> None:
    from directory import notifications

    lines = [f"  {row.name} ({row.entry_id}): {s.status}: {'; '.join(s.reasons)}" for row, s in newly[:200]]
    if len(newly) > 200:
        lines.append(f"  ... and {len(newly) - 200} more (`directory freshness check`)")
    notifications.notify_admins(f"{len(newly)} directory entries became stale or expired",
                                "The freshness check found:\n\n" + "\n".join(lines) + "\n",
                                f"freshness-digest:{now}")


def check_job() -> str:
    return check()
