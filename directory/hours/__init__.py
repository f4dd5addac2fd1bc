"""Working hours and "reachable now".

Plain Python: no Flask, no database. `validate_hours` and `normalise_hours` check and canonicalise the
`working_hours` document of an entry or contact (`document`); `reachability` answers "is anyone there
now, until when, and if not, when next?" for one schedule, time zone and instant (`availability`).

How the schedule is read (the decisions a caller must know):
- Intervals are local wall-clock times in the organisation's IANA zone; "24:00" is allowed as an end;
  an interval whose end <= start runs past midnight into the next day (so at most 24 hours).
- A public holiday or closure date cancels the intervals that START on that date: Thursday's 22:00-06:00
  shift still runs into a Friday holiday, the holiday's own evening shift does not.
- DST: wall times are mapped to instants with fold=0 (the first of two repeated readings) for starts and
  ends alike, so back-to-back intervals stay back-to-back and no hour is counted twice; a wall time in the
  spring-forward gap maps to the first valid instant after it.
- `always_open` is a 24/7 desk: it cannot be combined with weekly hours, holidays or closure dates
  (those would be silently ignored, which a publisher reading the signed document would not expect).
"""

from directory.hours.availability import HORIZON, Reachability, reachability
from directory.hours.document import (
    MAX_CLOSED_DATES,
    MAX_INTERVALS_PER_DAY,
    WEEKDAYS,
    Schedule,
    compile_hours,
    normalise_hours,
    validate_hours,
)

__all__ = [
    "HORIZON",
    "MAX_CLOSED_DATES",
    "MAX_INTERVALS_PER_DAY",
    "WEEKDAYS",
    "Reachability",
    "Schedule",
    "compile_hours",
    "normalise_hours",
    "reachability",
    "validate_hours",
]
