"""Statistics for §40/§58, computed from the audit log: what the directory was used for, per month.

Counts only: lookups (restricted reads), verifications by verdict and request type, sync and federation
outcomes, sign-in and token failures, changes. The freshness distribution is the current one (it is a
state, not an event) and organisations' published response times (programme.response_times, §54) are
shown alongside, so a reader sees both what was promised and how much the directory was used.
Months are UTC calendar months; the audit log is read one month at a time with SQL grouping.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from statistics import median
from typing import Any, cast

import peewee

from directory import runtime
from directory.actors import Actor
from directory.errors import Forbidden, InvalidInput
from directory.models.audit import AuditEvent
from directory.models.entries import Organisation

# Action names as the recording modules write them (verify.py, sync/apply.py, federation/pull.py).
VERIFY_ACTIONS = ("verify",)
LOOKUP_PREFIX = "read."
SYNC_PREFIX = "sync."
FEDERATION_ACTIONS = ("federation.pull",)
CHANGE_PREFIX = "entry."
AUTH_PREFIX = "auth."  # refused API tokens (api/auth.py)
SIGNIN = "signin"  # web sign-ins (web/signin.py): outcome ok, failed or refused
MAX_MONTHS = 60


def _month_start(year: int, month: int) -> int:
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp())


def months(count: int, now: int | None = None) -> list[tuple[str, int, int]]:
    """The last `count` calendar months, oldest first, as (YYYY-MM, start, end) epoch ranges."""
    moment = datetime.fromtimestamp(runtime.now() if now is None else now, UTC)
    year, month = moment.year, moment.month
    result = []
    for _ in range(count):
        start = _month_start(year, month)
        end = _month_start(year + month // 12, month % 12 + 1)
        result.append((f"{year:04d}-{month:02d}", start, end))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return result[::-1]


def _grouped(start: int, end: int) -> list[tuple[str, str, int]]:
    in_month = (AuditEvent.at >= start) & (AuditEvent.at < end)
    query = (AuditEvent.select(AuditEvent.action, AuditEvent.outcome, peewee.fn.COUNT(AuditEvent.seq))
             .where(in_month).group_by(AuditEvent.action, AuditEvent.outcome).tuples())
    rows = cast(Iterable[tuple[Any, Any, Any]], query)
    return [(str(a), str(o), int(n)) for a, o, n in rows]


def _verifications(start: int, end: int) -> dict[str, Any]:
    """Verdicts per request type: the details hold the request type (never the requester)."""
    rows = cast(Iterable[tuple[str, str]], AuditEvent.select(AuditEvent.outcome, AuditEvent.details)
                .where((AuditEvent.at >= start) & (AuditEvent.at < end) &
                       AuditEvent.action.in_(VERIFY_ACTIONS)).tuples())
    by_verdict: Counter[str] = Counter()
    by_type: dict[str, Counter[str]] = defaultdict(Counter)
    for outcome, details in rows:
        request_type = json.loads(details or "{}").get("request_type") or "unspecified"
        by_verdict[outcome] += 1
        by_type[str(request_type)][outcome] += 1
    return {"total": sum(by_verdict.values()), "by_verdict": dict(by_verdict),
            "by_request_type": {k: dict(v) for k, v in sorted(by_type.items())}}


def month_summary(label: str, start: int, end: int) -> dict[str, Any]:
    lookups: Counter[str] = Counter()
    sync: Counter[str] = Counter()
    federation: Counter[str] = Counter()
    changes: Counter[str] = Counter()
    auth_failures = 0
    for action, outcome, count in _grouped(start, end):
        if action.startswith(LOOKUP_PREFIX):
            lookups[action[len(LOOKUP_PREFIX):]] += count
        elif action.startswith(SYNC_PREFIX):
            sync[outcome] += count
        elif action in FEDERATION_ACTIONS:
            federation[outcome] += count
        elif action.startswith(CHANGE_PREFIX):
            changes[action[len(CHANGE_PREFIX):]] += count
        elif action.startswith(AUTH_PREFIX) or (action == SIGNIN and outcome != "ok"):
            auth_failures += count
    return {"month": label,
            "lookups": {"total": sum(lookups.values()), "by_kind": dict(lookups)},
            "verifications": _verifications(start, end),
            "sync": {"total": sum(sync.values()), "by_outcome": dict(sync)},
            "federation": {"total": sum(federation.values()), "by_outcome": dict(federation)},
            "changes": {"total": sum(changes.values()), "by_kind": dict(changes)},
            "auth_failures": auth_failures}


def freshness_distribution() -> dict[str, int]:
    """Current status of every live entry (the policy applied now, as every answer shows it)."""
    try:
        from directory import freshness
    except ImportError:  # pragma: no cover - freshness is part of the core from step 2 on
        return {}
    found = Counter(freshness.row_status(row).status
                    for row in Organisation.select().where(~Organisation.deleted))
    return {name: found.get(name, 0) for name in freshness.STATUSES}


def response_times() -> dict[str, Any]:
    """Published typical response times (§54): per request type across organisations, and per organisation."""
    hours: dict[tuple[str, str], list[int]] = defaultdict(list)
    organisations = []
    rows = (Organisation.select(Organisation.entry_id, Organisation.name, Organisation.public_view)
            .where(~Organisation.deleted).order_by(Organisation.name))
    for row in rows:
        published = (json.loads(row.public_view).get("programme") or {}).get("response_times") or []
        if not published:
            continue
        organisations.append({"entry_id": row.entry_id, "name": row.name, "response_times": published})
        for item in published:
            hours[(item["request_type"], item.get("priority", "routine"))].append(int(item["typical_hours"]))
    summary = [{"request_type": rt, "priority": pr, "organisations": len(v), "median_hours": median(v),
                "min_hours": min(v), "max_hours": max(v)} for (rt, pr), v in sorted(hours.items())]
    return {"summary": summary, "organisations": organisations}


def report(actor: Actor, month_count: int = 12) -> dict[str, Any]:
    """The statistics page/API: administrators only (it says who used the directory how much)."""
    if not actor.is_admin:
        raise Forbidden("statistics are for administrators")
    if not 1 <= month_count <= MAX_MONTHS:
        raise InvalidInput(f"months must be between 1 and {MAX_MONTHS}", {"months": ["out of range"]})
    return {"generated_at": runtime.now(),
            "months": [month_summary(*m) for m in months(month_count)],
            "freshness": freshness_distribution(),
            "response_times": response_times()}
