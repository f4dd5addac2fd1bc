"""The `working_hours` document: validation with field paths, canonical form, and the parsed Schedule.

Document shape (every key optional except `weekly`, which may be omitted only when `always_open`):
    {"weekly": {"mon": [["08:00", "17:00"]], ..., "sun": []},
     "holidays_country": "DE", "holidays_subdivision": "BY",
     "closed_dates": ["2026-12-24"], "always_open": false}
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, NamedTuple

import holidays

from directory.errors import InvalidInput

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_INTERVALS_PER_DAY = 6
MAX_CLOSED_DATES = 500  # about two years of closures; keeps the signed document and the lookups small
DAY = 24 * 60
_WEEK = 7 * DAY
_KEYS = ("weekly", "holidays_country", "holidays_subdivision", "closed_dates", "always_open")
# ASCII only: \d alone also matches other scripts' digits, which int() would quietly accept.
_TIME = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d|24:00", re.ASCII)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)  # date.fromisoformat also takes "20261224", "2026-W52-4"


@dataclass(frozen=True, slots=True)
class Schedule:
    """A parsed, validated `working_hours` document: what `reachability` works from.

    `weekly[i]` holds weekday i's (start, end) in minutes after local midnight, sorted, end > start; an
    end beyond 1440 runs into the next day.
    """

    weekly: tuple[tuple[tuple[int, int], ...], ...]
    holidays_country: str | None
    holidays_subdivision: str | None
    closed_dates: frozenset[date]
    always_open: bool


class _Slot(NamedTuple):
    day: int  # index into WEEKDAYS
    position: int  # in the submitted list, for error paths
    start: int
    end: int  # minutes; > start


def validate_hours(value: object, prefix: str = "working_hours") -> dict[str, str]:
    """Every problem of a `working_hours` document as {field path: message}; empty when valid.

    Paths start with `prefix` (e.g. "contacts[2].working_hours") and use `.key` and `[index]`:
    "working_hours.weekly.mon[1][0]". With prefix="" they are relative ("weekly.mon[1][0]"), for a caller
    that nests them under the field itself, and a problem with the value as a whole is under "".
    """
    return _check(value, prefix)[0]


def normalise_hours(value: object, prefix: str = "working_hours") -> dict[str, Any]:
    """The canonical document to store and sign; raises InvalidInput (with field paths) when invalid.

    Canonical: all seven weekdays in order, intervals sorted, an end of "00:00" written "24:00" (same
    meaning), closure dates sorted without duplicates, `closed_dates` and `always_open` always present,
    absent holiday keys omitted rather than null.
    """
    errors, _ = _check(value, prefix)
    if errors:
        raise InvalidInput("invalid working hours", errors)
    assert isinstance(value, Mapping)
    weekly = value.get("weekly") or {}
    result: dict[str, Any] = {
        "weekly": {
            day: sorted([start, "24:00" if end == "00:00" else end] for start, end in weekly.get(day, []))
            for day in WEEKDAYS
        }
    }
    for key in ("holidays_country", "holidays_subdivision"):
        if value.get(key) is not None:
            result[key] = value[key]
    result["closed_dates"] = sorted(set(value.get("closed_dates") or []))
    result["always_open"] = value.get("always_open") or False
    return result


def compile_hours(hours: Mapping[str, Any]) -> Schedule:
    """Validate and parse; raises InvalidInput with field paths when the document is invalid.

    Memoised on the document's JSON text: search evaluates the same stored documents over and over, and
    serialising one is several times cheaper than validating it again. Key order is not normalised (that
    would cost as much as it saves): stored documents are canonical, so they already agree on it.
    """
    try:
        key = json.dumps(hours)
    except (TypeError, ValueError):
        return _compile(hours)  # not JSON at all: validation will say what is wrong
    return _compile_json(key)


@lru_cache(maxsize=2048)
def _compile_json(key: str) -> Schedule:
    # Only valid documents are cached: lru_cache does not keep a call that raised.
    return _compile(json.loads(key))


def _compile(hours: object) -> Schedule:
    errors, schedule = _check(hours, "working_hours")
    if schedule is None:
        raise InvalidInput("invalid working hours", errors)
    return schedule


def _check(value: object, prefix: str) -> tuple[dict[str, str], Schedule | None]:
    """One pass that both reports errors and, when there are none, builds the Schedule."""
    if not isinstance(value, Mapping):
        return {prefix: "must be an object (omit the field when no hours are published)"}, None
    base = f"{prefix}." if prefix else ""  # an empty prefix gives paths relative to the document
    errors: dict[str, str] = {}
    for key in value:
        if key not in _KEYS:
            errors[f"{base}{key}"] = f"unknown field; expected one of {', '.join(_KEYS)}"
    always_open = value.get("always_open")
    if always_open is None:  # null means absent, as for every optional key
        always_open = False
    elif not isinstance(always_open, bool):
        errors[f"{base}always_open"] = "must be true or false"
        always_open = False
    slots = _check_weekly(value.get("weekly"), f"{base}weekly", errors, required=not always_open)
    country, subdivision = _check_holidays(value, base, errors)
    closed = _check_closed_dates(value.get("closed_dates"), f"{base}closed_dates", errors)
    if always_open:
        # A 24/7 desk ignores all of these; refusing them beats signing data nobody would honour.
        if slots:
            errors[f"{base}weekly"] = "must have no intervals when always_open is true"
        if country is not None:
            errors[f"{base}holidays_country"] = "cannot be combined with always_open"
        if closed:
            errors[f"{base}closed_dates"] = "cannot be combined with always_open"
    if errors:
        return errors, None
    days: list[list[tuple[int, int]]] = [[] for _ in WEEKDAYS]
    for slot in slots:
        days[slot.day].append((slot.start, slot.end))
    weekly = tuple(tuple(sorted(day)) for day in days)
    return {}, Schedule(weekly, country, subdivision, frozenset(closed), always_open)


def _check_weekly(weekly: object, path: str, errors: dict[str, str], *, required: bool) -> list[_Slot]:
    if weekly is None:
        if required:
            errors[path] = "required unless always_open is true"
        return []
    if not isinstance(weekly, Mapping):
        errors[path] = 'must be an object like {"mon": [["08:00", "17:00"]]}'
        return []
    slots: list[_Slot] = []
    for name, intervals in weekly.items():
        if name not in WEEKDAYS:
            errors[f"{path}.{name}"] = f"unknown weekday; use {', '.join(WEEKDAYS)}"
            continue
        slots += _check_day(WEEKDAYS.index(name), intervals, f"{path}.{name}", errors)
    _check_overlaps(slots, path, errors)
    return slots


def _check_day(day: int, intervals: object, path: str, errors: dict[str, str]) -> list[_Slot]:
    if not isinstance(intervals, list):
        errors[path] = 'must be a list of intervals like [["08:00", "17:00"]]'
        return []
    if len(intervals) > MAX_INTERVALS_PER_DAY:
        errors[path] = f"at most {MAX_INTERVALS_PER_DAY} intervals a day (got {len(intervals)})"
    slots = []
    for index, interval in enumerate(intervals):
        here = f"{path}[{index}]"
        if not isinstance(interval, list) or len(interval) != 2:
            errors[here] = 'an interval is a pair of times ["HH:MM", "HH:MM"]'
            continue
        start = _minutes(interval[0], f"{here}[0]", errors, end=False)
        end = _minutes(interval[1], f"{here}[1]", errors, end=True)
        if start is not None and end is not None:
            # end <= start means the interval runs past midnight ("22:00"-"06:00", "00:00"-"00:00" = 24 h).
            slots.append(_Slot(day, index, start, end if end > start else end + DAY))
    return slots


def _minutes(text: object, path: str, errors: dict[str, str], *, end: bool) -> int | None:
    if not isinstance(text, str) or not _TIME.fullmatch(text):
        errors[path] = 'must be a time "HH:MM" from 00:00 to 23:59 (24:00 allowed as an end)'
        return None
    if text == "24:00" and not end:
        errors[path] = "24:00 is allowed only as an end; start at 00:00 instead"
        return None
    return int(text[:2]) * 60 + int(text[3:])


def _check_overlaps(slots: list[_Slot], path: str, errors: dict[str, str]) -> None:
    """Overlaps on the weekly circle, so Monday's night shift is compared with Tuesday morning's and
    Sunday's with Monday's: two desks cannot be open at once, and `reachability` relies on it."""
    spans = [(s.day * DAY + s.start, s.day * DAY + s.end, s) for s in slots]
    spans += [(a - _WEEK, b - _WEEK, s) for a, b, s in spans if b > _WEEK]
    spans.sort(key=lambda span: (span[0], span[1]))
    reach: tuple[int, int, _Slot] | None = None  # the span seen so far that ends last
    for span in spans:
        if reach is not None and span[0] < reach[1] and span[2] is not reach[2]:
            other = reach[2]
            errors.setdefault(
                f"{path}.{WEEKDAYS[span[2].day]}[{span[2].position}]",
                f"overlaps {path}.{WEEKDAYS[other.day]}[{other.position}]",
            )
        if reach is None or span[1] > reach[1]:
            reach = span


@lru_cache(maxsize=1)
def _holiday_countries() -> dict[str, frozenset[str]]:
    # The package also lists alpha-3 aliases; the document takes ISO 3166-1 alpha-2 only.
    supported = holidays.list_supported_countries()
    return {code: frozenset(subdivisions) for code, subdivisions in supported.items() if len(code) == 2}


def _check_holidays(
    value: Mapping[str, Any], base: str, errors: dict[str, str]
) -> tuple[str | None, str | None]:
    country = value.get("holidays_country")
    subdivision = value.get("holidays_subdivision")
    if country is not None and (not isinstance(country, str) or country not in _holiday_countries()):
        errors[f"{base}holidays_country"] = (
            "unknown holiday country; use an upper-case ISO 3166-1 alpha-2 code the holidays package "
            'supports, e.g. "DE"'
        )
        country = None
    if subdivision is None:
        return country, None
    path = f"{base}holidays_subdivision"
    if value.get("holidays_country") is None:
        errors[path] = "requires holidays_country"
    elif country is not None and (
        not isinstance(subdivision, str) or subdivision not in _holiday_countries()[country]
    ):
        known = sorted(_holiday_countries()[country])
        errors[path] = (
            f"unknown subdivision of {country}; expected one of {', '.join(known)}"
            if known
            else f"{country} has no subdivisions in the holiday calendar"
        )
    return country, subdivision if path not in errors else None


def _check_closed_dates(dates: object, path: str, errors: dict[str, str]) -> set[date]:
    if dates is None:
        return set()
    if not isinstance(dates, list):
        errors[path] = 'must be a list of dates "YYYY-MM-DD"'
        return set()
    if len(dates) > MAX_CLOSED_DATES:
        errors[path] = f"at most {MAX_CLOSED_DATES} dates (got {len(dates)})"
    parsed = set()
    for index, text in enumerate(dates):
        try:
            if not isinstance(text, str) or not _DATE.fullmatch(text):
                raise ValueError
            parsed.add(date.fromisoformat(text))
        except ValueError:
            errors[f"{path}[{index}]"] = 'must be a calendar date "YYYY-MM-DD"'
    return parsed
