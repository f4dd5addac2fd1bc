"""Reachable now: open or closed at an instant, until when, or when next, for one Schedule and zone.

Concrete shifts are generated lazily, local day by local day, from the day before the instant (its
night shift may still be running) to one day past the 14-day horizon, so every answer is a bounded loop
and most stop after two or three days.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from directory.errors import InvalidInput
from directory.hours.document import DAY, Schedule, compile_hours

HORIZON = timedelta(days=14)
# Fixed English names: strftime("%A") follows the process locale, which must not leak into answers.
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class Reachability:
    """The answer for one schedule at one instant; datetimes are aware, in the organisation's zone."""

    open_now: bool
    closes_at: datetime | None  # end of the current opening (back-to-back intervals merged)
    next_open: datetime | None  # None when open now or when closed for the whole horizon
    timezone: str
    reason: str  # plain English, for people; e.g. "open until 17:00"
    always_open: bool

    def in_zone(self, tz: str) -> dict[str, Any]:
        """JSON-ready answer with the instants as ISO 8601 in the organisation's and the caller's zone.

        Raises InvalidInput (field "tz") for an unknown caller zone.
        """
        zone = _zone(tz, "tz")
        return {
            "open_now": self.open_now,
            "always_open": self.always_open,
            "reason": self.reason,
            "timezone": self.timezone,
            "closes_at": _iso(self.closes_at, None),
            "next_open": _iso(self.next_open, None),
            "caller_timezone": tz,
            "caller_closes_at": _iso(self.closes_at, zone),
            "caller_next_open": _iso(self.next_open, zone),
        }


def reachability(hours: Mapping[str, Any] | Schedule | None, tz: str, at: datetime) -> Reachability:
    """Whether the desk is open at `at` (aware), until when, or when it next opens within 14 days."""
    if at.utcoffset() is None:
        raise ValueError("reachability needs an aware datetime")
    zone = _zone(tz, "timezone")
    if not hours:
        return Reachability(False, None, None, tz, "no working hours published", False)
    schedule = hours if isinstance(hours, Schedule) else compile_hours(hours)
    if schedule.always_open:
        return Reachability(True, None, None, tz, "open 24/7", True)
    now = at.astimezone(UTC)
    today = now.astimezone(zone).date()
    # Yesterday's shift may run past midnight into now; one day beyond the horizon lets a run of
    # back-to-back intervals be followed to its end before deciding it closes within the horizon.
    shifts = _shifts(schedule, zone, today - timedelta(days=1), today + HORIZON + timedelta(days=1))
    closure: str | None = None
    for shift in shifts:
        if shift.end <= now:
            continue
        if shift.closure is not None:
            if shift.start <= now:
                closure = shift.closure  # closed *because* this shift was cancelled
            continue
        if shift.start <= now:
            return _open_until(shift.end, shifts, now, zone, tz, today)
        if shift.start - now > HORIZON:
            break
        return _closed(shift.start.astimezone(zone), closure or _closure_today(schedule, today), tz, today)
    return _closed(None, closure or _closure_today(schedule, today), tz, today)


class _Shift(NamedTuple):
    start: datetime  # UTC
    end: datetime  # UTC, > start
    closure: str | None  # why this shift does not take place; None when it does


def _shifts(schedule: Schedule, zone: ZoneInfo, first: date, last: date) -> Iterator[_Shift]:
    """Concrete shifts starting on local days first..last, in order; lazy so most answers stop early."""
    day = first
    while day <= last:
        closure = _closure(schedule, day)
        for start, end in schedule.weekly[day.weekday()]:
            begins, ends = _instant(zone, day, start), _instant(zone, day, end)
            if begins < ends:  # an interval wholly inside a spring-forward gap never happens
                yield _Shift(begins, ends, closure)
        day += timedelta(days=1)


def _open_until(
    end: datetime, shifts: Iterator[_Shift], now: datetime, zone: ZoneInfo, tz: str, today: date
) -> Reachability:
    for shift in shifts:
        if shift.closure is not None:
            continue
        if shift.start > end or end - now > HORIZON:
            break
        end = shift.end  # back-to-back ("08:00-12:00", "12:00-17:00", or 22:00-24:00 + 00:00-06:00)
    if end - now > HORIZON:
        return Reachability(True, None, None, tz, "open; no closing time in the next 14 days", False)
    closes = end.astimezone(zone)
    return Reachability(True, closes, None, tz, f"open until {_moment(closes, today)}", False)


def _closed(opens: datetime | None, closure: str | None, tz: str, today: date) -> Reachability:
    why = f"closed: {closure or 'outside working hours'}"
    then = f"opens {_moment(opens, today)}" if opens else "does not open in the next 14 days"
    return Reachability(False, None, opens, tz, f"{why}; {then}", False)


def _closure_today(schedule: Schedule, today: date) -> str | None:
    # Name today's holiday only when it cancelled something: "public holiday" on a Sunday the desk never
    # works would suggest it is normally open.
    return _closure(schedule, today) if schedule.weekly[today.weekday()] else None


def _closure(schedule: Schedule, day: date) -> str | None:
    if schedule.holidays_country is not None:
        name = _holiday_names(schedule.holidays_country, schedule.holidays_subdivision, day.year).get(day)
        if name is not None:
            return f"public holiday ({name})"
    if day in schedule.closed_dates:
        return f"closure day ({day.isoformat()})"
    return None


@lru_cache(maxsize=4096)
def _holiday_names(country: str, subdivision: str | None, year: int) -> dict[date, str]:
    """One calendar per (country, subdivision, year), as a plain dict: HolidayBase lookups may expand
    years and parse strings, and building a calendar costs ~0.2 ms, far too much per search result."""
    # en_US for plain-English reasons; countries without that translation fall back to their default.
    calendar = holidays.country_holidays(country, subdiv=subdivision, years=year, language="en_US")
    return dict(calendar.items())


def _instant(zone: ZoneInfo, day: date, minutes: int) -> datetime:
    """The UTC instant of a local wall time; `minutes` may exceed a day (intervals past midnight)."""
    extra, minutes = divmod(minutes, DAY)
    if extra:
        day += timedelta(days=extra)
    # fold=0 (the default) takes the first of two repeated readings at fall-back, for starts and ends.
    wall = datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=zone)
    moment = wall.astimezone(UTC)
    back = moment.astimezone(zone)  # a reading that does not round-trip lies in a spring-forward gap
    if back.minute == wall.minute and back.hour == wall.hour and back.day == wall.day:
        return moment
    return _gap_end(zone, wall)


def _gap_end(zone: ZoneInfo, wall: datetime) -> datetime:
    """First valid instant after a wall time in a spring-forward gap.

    In a gap fold=1 reads the wall time with the offset after the transition and fold=0 with the one
    before (PEP 495), so the transition lies between the two readings; bisect on whole seconds.
    """
    low, high = int(wall.replace(fold=1).timestamp()), int(wall.replace(fold=0).timestamp())
    before = datetime.fromtimestamp(low, zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def _moment(local: datetime, today: date) -> str:
    """ "17:00" (today), "tomorrow 08:00", "Monday 08:00"; a week ahead or more "Monday 2026-03-30 08:00"."""
    day, clock = local.date(), local.strftime("%H:%M")
    ahead = (day - today).days
    if ahead == 0:
        return clock
    if ahead == 1:
        return f"tomorrow {clock}"
    name = _DAY_NAMES[day.weekday()]
    return f"{name} {clock}" if ahead < 7 else f"{name} {day.isoformat()} {clock}"


def _zone(name: str, field: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)  # ZoneInfo keeps its own cache of loaded zones
    except (ZoneInfoNotFoundError, ValueError, OSError, TypeError):
        raise InvalidInput("unknown time zone", {field: f"not an IANA time zone: {name!r}"}) from None


def _iso(moment: datetime | None, zone: ZoneInfo | None) -> str | None:
    if moment is None:
        return None
    return (moment.astimezone(zone) if zone else moment).isoformat(timespec="seconds")
