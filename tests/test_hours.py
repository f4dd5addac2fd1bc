"""Working hours: validation with field paths, canonical form, and "reachable now".

Every clock is pinned: each test passes the instant it asks about. Note that subtracting two aware
datetimes with the *same* tzinfo ignores their offsets in Python, so durations across a DST change are
measured in UTC here.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from directory.errors import InvalidInput
from directory.hours import (
    Reachability,
    compile_hours,
    normalise_hours,
    reachability,
    validate_hours,
)

BERLIN = ZoneInfo("Europe/Berlin")
SYDNEY = ZoneInfo("Australia/Sydney")
WORKDAYS = ("mon", "tue", "wed", "thu", "fri")


def office(start: str = "08:00", end: str = "17:00", **extra: Any) -> dict[str, Any]:
    """Monday to Friday, one interval a day, plus any other document keys."""
    return {"weekly": {day: [[start, end]] for day in WORKDAYS}, **extra}


def weekly(**days: Any) -> dict[str, Any]:
    return {"weekly": days}


def local(zone: ZoneInfo, text: str, fold: int = 0) -> datetime:
    """An aware wall-clock time, "2026-03-29 02:30"; `fold=1` picks the second of a repeated reading."""
    return datetime.fromisoformat(text).replace(tzinfo=zone, fold=fold)


def berlin(text: str, fold: int = 0) -> datetime:
    return local(BERLIN, text, fold)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def check(hours: Any, zone: ZoneInfo, at: datetime) -> Reachability:
    return reachability(hours, str(zone), at)


# ---------------------------------------------------------------- simple weeks


def test_open_during_hours_reports_when_it_closes() -> None:
    answer = check(office(), BERLIN, berlin("2026-06-10 10:00"))  # a Wednesday

    assert answer.open_now
    assert answer.closes_at == berlin("2026-06-10 17:00")
    assert answer.closes_at is not None and answer.closes_at.tzinfo == BERLIN
    assert answer.next_open is None
    assert answer.reason == "open until 17:00"
    assert answer.timezone == "Europe/Berlin"
    assert not answer.always_open


@pytest.mark.parametrize(
    ("at", "opens", "reason"),
    [
        ("2026-06-10 07:59", "2026-06-10 08:00", "closed: outside working hours; opens 08:00"),
        # Intervals are half-open: at 17:00 sharp the desk has closed.
        ("2026-06-10 17:00", "2026-06-11 08:00", "closed: outside working hours; opens tomorrow 08:00"),
        ("2026-06-12 18:30", "2026-06-15 08:00", "closed: outside working hours; opens Monday 08:00"),
        ("2026-06-13 12:00", "2026-06-15 08:00", "closed: outside working hours; opens Monday 08:00"),
    ],
    ids=["before-opening", "at-closing-time", "friday-evening", "saturday"],
)
def test_closed_reports_next_opening(at: str, opens: str, reason: str) -> None:
    answer = check(office(), BERLIN, berlin(at))

    assert not answer.open_now
    assert answer.closes_at is None
    assert answer.next_open == berlin(opens)
    assert answer.reason == reason


def test_back_to_back_intervals_are_one_opening() -> None:
    hours = weekly(mon=[["12:00", "17:00"], ["08:00", "12:00"]])

    answer = check(hours, BERLIN, berlin("2026-06-08 09:00"))

    assert answer.closes_at == berlin("2026-06-08 17:00")


def test_lunch_break_is_closed_until_the_afternoon_interval() -> None:
    hours = weekly(mon=[["08:00", "12:00"], ["13:00", "17:00"]])

    answer = check(hours, BERLIN, berlin("2026-06-08 12:30"))

    assert not answer.open_now
    assert answer.next_open == berlin("2026-06-08 13:00")


# ---------------------------------------------------------------- past midnight


@pytest.mark.parametrize(
    ("at", "reason"),
    [
        ("2026-06-10 23:00", "open until tomorrow 06:00"),  # evening part, started today
        ("2026-06-11 05:00", "open until 06:00"),  # early-morning part, started yesterday
    ],
)
def test_midnight_spanning_shift_is_open_on_both_sides_of_midnight(at: str, reason: str) -> None:
    answer = check(weekly(wed=[["22:00", "06:00"]]), BERLIN, berlin(at))

    assert answer.open_now
    assert answer.closes_at == berlin("2026-06-11 06:00")
    assert answer.reason == reason


def test_midnight_spanning_shift_then_waits_a_week() -> None:
    answer = check(weekly(wed=[["22:00", "06:00"]]), BERLIN, berlin("2026-06-11 06:00"))

    assert not answer.open_now
    assert answer.next_open == berlin("2026-06-17 22:00")
    assert answer.reason == "closed: outside working hours; opens Wednesday 22:00"


def test_sunday_night_shift_runs_into_monday() -> None:
    answer = check(weekly(sun=[["22:00", "06:00"]]), BERLIN, berlin("2026-06-08 03:00"))

    assert answer.open_now
    assert answer.closes_at == berlin("2026-06-08 06:00")


def test_shift_ending_at_24_00_continues_into_next_day_interval() -> None:
    hours = weekly(mon=[["22:00", "24:00"]], tue=[["00:00", "06:00"]])

    answer = check(hours, BERLIN, berlin("2026-06-08 23:00"))

    assert answer.closes_at == berlin("2026-06-09 06:00")


def test_every_day_round_the_clock_has_no_closing_within_horizon() -> None:
    hours = weekly(**{day: [["00:00", "24:00"]] for day in (*WORKDAYS, "sat", "sun")})

    answer = check(hours, BERLIN, berlin("2026-06-10 12:00"))

    assert answer.open_now
    assert answer.closes_at is None
    assert answer.reason == "open; no closing time in the next 14 days"


def test_round_the_clock_week_closes_at_the_start_of_a_closure_day() -> None:
    hours = weekly(**{day: [["00:00", "24:00"]] for day in (*WORKDAYS, "sat", "sun")})
    hours["closed_dates"] = ["2026-06-15"]

    answer = check(hours, BERLIN, berlin("2026-06-10 12:00"))

    assert answer.closes_at == berlin("2026-06-15 00:00")
    assert answer.reason == "open until Monday 00:00"


# ---------------------------------------------------------------- daylight saving time


def hours_between(start: datetime, end: datetime) -> float:
    return (end.astimezone(UTC) - start.astimezone(UTC)) / timedelta(hours=1)


@pytest.mark.parametrize(
    ("zone", "saturday", "length"),
    [
        (BERLIN, "2026-03-28", 7),  # spring forward (02:00 -> 03:00): an hour shorter
        (BERLIN, "2026-10-24", 9),  # fall back (03:00 -> 02:00): an hour longer
        (SYDNEY, "2026-10-03", 7),  # southern spring: 02:00 -> 03:00 on the first Sunday of October
        (SYDNEY, "2026-04-04", 9),  # southern autumn: 03:00 -> 02:00 on the first Sunday of April
    ],
)
def test_night_shift_straddling_a_dst_change_lasts_the_real_time(
    zone: ZoneInfo, saturday: str, length: int
) -> None:
    starts = local(zone, f"{saturday} 22:00")
    sunday_6 = local(zone, f"{saturday} 06:00") + timedelta(days=1)

    at_start = check(weekly(sat=[["22:00", "06:00"]]), zone, starts)
    before_end = check(weekly(sat=[["22:00", "06:00"]]), zone, sunday_6 - timedelta(minutes=30))

    assert at_start.open_now and before_end.open_now
    assert at_start.closes_at == before_end.closes_at == sunday_6
    assert at_start.closes_at is not None
    assert at_start.closes_at.utcoffset() == sunday_6.utcoffset()
    assert hours_between(starts, at_start.closes_at) == length


@pytest.mark.parametrize(
    ("zone", "sunday", "first_valid"),
    [
        (BERLIN, "2026-03-29", "2026-03-29 01:00"),  # 02:30 does not exist; 03:00 CEST = 01:00 UTC
        (SYDNEY, "2026-10-04", "2026-10-03 16:00"),  # 02:30 does not exist; 03:00 AEDT = 16:00 UTC
    ],
)
def test_shift_starting_in_spring_forward_gap_starts_at_first_valid_instant(
    zone: ZoneInfo, sunday: str, first_valid: str
) -> None:
    hours = weekly(sun=[["02:30", "05:00"]])

    closed = check(hours, zone, utc(first_valid) - timedelta(seconds=1))
    opened = check(hours, zone, utc(first_valid))

    assert not closed.open_now
    assert closed.next_open == utc(first_valid)
    assert closed.next_open is not None and closed.next_open.strftime("%H:%M") == "03:00"
    assert closed.reason == "closed: outside working hours; opens 03:00"
    assert opened.open_now
    assert opened.closes_at == local(zone, f"{sunday} 05:00")


def test_interval_wholly_inside_the_gap_never_happens() -> None:
    hours = weekly(sun=[["02:00", "03:00"]])

    answer = check(hours, BERLIN, berlin("2026-03-29 00:00"))

    assert answer.next_open == berlin("2026-04-05 02:00")
    assert answer.reason == "closed: outside working hours; opens Sunday 2026-04-05 02:00"


def test_shift_starting_in_repeated_hour_starts_at_first_reading() -> None:
    hours = weekly(sun=[["02:30", "04:00"]])  # 2026-10-25: Berlin reads 02:00-03:00 twice

    before = check(hours, BERLIN, berlin("2026-10-25 02:15"))
    second_reading = check(hours, BERLIN, berlin("2026-10-25 02:45", fold=1))

    # Inside the repeated hour an aware datetime never equals one in another zone (PEP 495): compare
    # instants in UTC.
    assert before.next_open is not None
    assert before.next_open.astimezone(UTC) == utc("2026-10-25 00:30")  # 02:30 CEST, the first reading
    assert before.next_open.isoformat() == "2026-10-25T02:30:00+02:00"
    assert second_reading.open_now
    assert second_reading.closes_at == utc("2026-10-25 03:00")  # 04:00 CET


def test_fall_back_night_is_neither_double_counted_nor_broken() -> None:
    # Back-to-back at the repeated 02:30: with the same fold for ends and starts they stay one opening.
    hours = weekly(sun=[["00:00", "02:30"], ["02:30", "06:00"]])
    night = [utc("2026-10-24 21:00") + timedelta(minutes=15 * step) for step in range(40)]

    answers = [check(hours, BERLIN, at) for at in night]

    assert sum(answer.open_now for answer in answers) == 7 * 4  # 00:00 CEST -> 06:00 CET is 7 real hours
    assert {answer.closes_at for answer in answers if answer.open_now} == {utc("2026-10-25 05:00")}


def test_sao_paulo_keeps_its_offset_where_it_used_to_change_clocks() -> None:
    zone = ZoneInfo("America/Sao_Paulo")  # no DST since 2019; it used to start early in November

    friday = check(office("09:00", "18:00"), zone, local(zone, "2026-11-06 19:00"))
    monday = check(office("09:00", "18:00"), zone, local(zone, "2026-11-09 10:00"))

    assert friday.next_open == utc("2026-11-09 12:00")
    assert monday.closes_at == utc("2026-11-09 21:00")
    assert monday.closes_at is not None and monday.closes_at.utcoffset() == timedelta(hours=-3)


# ---------------------------------------------------------------- holidays and closures


def test_public_holiday_closes_a_weekday() -> None:
    answer = check(office(holidays_country="DE"), BERLIN, berlin("2026-12-25 10:00"))  # a Friday

    assert not answer.open_now
    assert answer.next_open == berlin("2026-12-28 08:00")
    assert answer.reason == "closed: public holiday (Christmas Day); opens Monday 08:00"


@pytest.mark.parametrize(("subdivision", "open_now"), [("BY", False), ("BE", True)])
def test_regional_holiday_depends_on_subdivision(subdivision: str, open_now: bool) -> None:
    hours = office(holidays_country="DE", holidays_subdivision=subdivision)

    answer = check(hours, BERLIN, berlin("2026-01-06 10:00"))  # Epiphany: Bavaria only

    assert answer.open_now is open_now


def test_holiday_cancels_the_night_shift_starting_on_it_not_the_one_running_into_it() -> None:
    hours = weekly(thu=[["22:00", "06:00"]], fri=[["22:00", "06:00"]])
    hours["holidays_country"] = "DE"

    into_holiday = check(hours, BERLIN, berlin("2026-12-25 03:00"))  # started Thursday the 24th
    holiday_evening = check(hours, BERLIN, berlin("2026-12-25 23:00"))
    after_midnight = check(hours, BERLIN, berlin("2026-12-26 03:00"))  # inside the cancelled shift

    assert into_holiday.open_now
    assert into_holiday.closes_at == berlin("2026-12-25 06:00")
    assert not holiday_evening.open_now
    assert not after_midnight.open_now
    assert after_midnight.reason == "closed: public holiday (Christmas Day); opens Thursday 22:00"
    # New Year's Day is a Friday holiday, but the shift of Thursday the 31st starts before it.
    assert after_midnight.next_open == berlin("2026-12-31 22:00")


def test_azerbaijan_holiday_run_pushes_next_opening_beyond_a_week() -> None:
    zone = ZoneInfo("Asia/Baku")
    hours = office("09:00", "18:00", holidays_country="AZ")

    answer = check(hours, zone, local(zone, "2026-03-20 10:00"))  # Novruz and Eid al-Fitr

    assert not answer.open_now
    assert answer.next_open == local(zone, "2026-03-31 09:00")
    assert answer.reason == (
        "closed: public holiday (Eid al-Fitr; Spring Festival); opens Tuesday 2026-03-31 09:00"
    )


def test_closed_date_closes_that_day_only() -> None:
    hours = office(closed_dates=["2026-12-24"])

    answer = check(hours, BERLIN, berlin("2026-12-24 10:00"))

    assert not answer.open_now
    assert answer.next_open == berlin("2026-12-25 08:00")
    assert answer.reason == "closed: closure day (2026-12-24); opens tomorrow 08:00"


def test_holiday_on_a_day_without_hours_is_not_given_as_the_reason() -> None:
    answer = check(office(holidays_country="DE"), BERLIN, berlin("2026-12-26 10:00"))  # a Saturday

    assert answer.reason == "closed: outside working hours; opens Monday 08:00"


@pytest.mark.parametrize(
    ("closed", "opens"),
    [
        (["2026-06-01", "2026-06-08"], berlin("2026-06-15 08:00")),  # exactly 14 days ahead: found
        (["2026-06-01", "2026-06-08", "2026-06-15"], None),
    ],
)
def test_search_forward_stops_at_fourteen_days(closed: list[str], opens: datetime | None) -> None:
    hours = weekly(mon=[["08:00", "17:00"]])
    hours["closed_dates"] = closed

    answer = check(hours, BERLIN, berlin("2026-06-01 08:00"))

    assert not answer.open_now
    assert answer.next_open == opens
    if opens is None:
        assert answer.reason == "closed: closure day (2026-06-01); does not open in the next 14 days"


# ---------------------------------------------------------------- always open, no hours, zones


@pytest.mark.parametrize("at", [berlin("2026-12-25 03:00"), berlin("2026-03-29 02:00")])
def test_always_open_desk(at: datetime) -> None:
    answer = check({"always_open": True}, BERLIN, at)

    assert answer.open_now and answer.always_open
    assert answer.closes_at is None and answer.next_open is None
    assert answer.reason == "open 24/7"


@pytest.mark.parametrize("hours", [None, {}])
def test_no_published_hours_is_closed(hours: dict[str, Any] | None) -> None:
    answer = check(hours, BERLIN, berlin("2026-06-10 10:00"))

    assert not answer.open_now
    assert answer.next_open is None and answer.closes_at is None
    assert answer.reason == "no working hours published"


def test_caller_zone_conversion_open() -> None:
    baku = ZoneInfo("Asia/Baku")
    answer = check(office("09:00", "18:00"), baku, local(baku, "2026-03-10 14:00"))

    view = answer.in_zone("America/New_York")  # New York is on EDT since 8 March

    assert view == {
        "open_now": True,
        "always_open": False,
        "reason": "open until 18:00",
        "timezone": "Asia/Baku",
        "closes_at": "2026-03-10T18:00:00+04:00",
        "next_open": None,
        "caller_timezone": "America/New_York",
        "caller_closes_at": "2026-03-10T10:00:00-04:00",
        "caller_next_open": None,
    }


def test_caller_zone_conversion_closed_crosses_the_date_line_of_the_caller() -> None:
    baku = ZoneInfo("Asia/Baku")
    answer = check(office("09:00", "18:00"), baku, local(baku, "2026-03-13 19:00"))  # Friday evening

    view = answer.in_zone("America/New_York")

    assert view["next_open"] == "2026-03-16T09:00:00+04:00"
    assert view["caller_next_open"] == "2026-03-16T01:00:00-04:00"
    assert view["caller_closes_at"] is None


def test_unknown_caller_zone_is_an_input_error_on_tz() -> None:
    answer = check(office(), BERLIN, berlin("2026-06-10 10:00"))

    with pytest.raises(InvalidInput) as raised:
        answer.in_zone("Mars/Olympus_Mons")

    assert set(raised.value.errors) == {"tz"}


@pytest.mark.parametrize("zone", ["Nowhere/City", "../etc", "Europe", ""])
def test_unknown_organisation_zone_is_an_input_error_on_timezone(zone: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        reachability(office(), zone, utc("2026-06-10 10:00"))

    assert set(raised.value.errors) == {"timezone"}


def test_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        reachability(office(), "Europe/Berlin", datetime(2026, 6, 10, 10))


def test_compiled_schedule_gives_the_same_answer_and_is_memoised() -> None:
    hours = office(holidays_country="DE", closed_dates=["2026-12-24"])
    at = berlin("2026-12-24 10:00")

    schedule = compile_hours(hours)

    assert compile_hours(copy.deepcopy(hours)) is schedule
    assert reachability(schedule, "Europe/Berlin", at) == reachability(hours, "Europe/Berlin", at)


def test_reachability_refuses_an_invalid_document() -> None:
    with pytest.raises(InvalidInput) as raised:
        reachability(weekly(mon=[["8:00", "17:00"]]), "Europe/Berlin", berlin("2026-06-08 10:00"))

    assert set(raised.value.errors) == {"working_hours.weekly.mon[0][0]"}


# ---------------------------------------------------------------- validation

WH = "working_hours"
SEVEN = [[f"{hour:02}:00", f"{hour:02}:30"] for hour in range(7)]


@pytest.mark.parametrize(
    ("document", "errors"),
    [
        ([], {WH: "must be an object"}),
        (None, {WH: "must be an object"}),
        ({"weekly": {}, "timezone": "UTC"}, {f"{WH}.timezone": "unknown field"}),
        ({}, {f"{WH}.weekly": "required unless always_open"}),
        ({"weekly": [["08:00", "17:00"]]}, {f"{WH}.weekly": "must be an object"}),
        (weekly(monday=[]), {f"{WH}.weekly.monday": "unknown weekday"}),
        (weekly(Mon=[]), {f"{WH}.weekly.Mon": "unknown weekday"}),
        (weekly(mon="08:00-17:00"), {f"{WH}.weekly.mon": "must be a list"}),
        (weekly(mon=[["08:00"]]), {f"{WH}.weekly.mon[0]": "pair"}),
        (weekly(mon=["08:00", "17:00"]), {f"{WH}.weekly.mon[0]": "pair", f"{WH}.weekly.mon[1]": "pair"}),
        (weekly(mon=[["8:00", "17:00"]]), {f"{WH}.weekly.mon[0][0]": '"HH:MM"'}),
        (weekly(mon=[["08:00", "25:00"]]), {f"{WH}.weekly.mon[0][1]": '"HH:MM"'}),
        (weekly(mon=[["08:60", "17:00"]]), {f"{WH}.weekly.mon[0][0]": '"HH:MM"'}),
        (weekly(mon=[[800, "17:00"]]), {f"{WH}.weekly.mon[0][0]": '"HH:MM"'}),
        (weekly(mon=[["08:00", "17:00:00"]]), {f"{WH}.weekly.mon[0][1]": '"HH:MM"'}),
        (weekly(mon=[["0\u0668:00", "17:00"]]), {f"{WH}.weekly.mon[0][0]": '"HH:MM"'}),  # Arabic-Indic
        (weekly(mon=[["24:00", "06:00"]]), {f"{WH}.weekly.mon[0][0]": "only as an end"}),
        (weekly(mon=SEVEN), {f"{WH}.weekly.mon": "at most 6 intervals"}),
        (
            weekly(mon=[["08:00", "12:00"], ["11:00", "13:00"]]),
            {f"{WH}.weekly.mon[1]": f"overlaps {WH}.weekly.mon[0]"},
        ),
        (
            weekly(mon=[["08:00", "12:00"], ["08:00", "12:00"]]),
            {f"{WH}.weekly.mon[1]": f"overlaps {WH}.weekly.mon[0]"},
        ),
        (
            weekly(mon=[["22:00", "06:00"]], tue=[["05:00", "09:00"]]),
            {f"{WH}.weekly.tue[0]": f"overlaps {WH}.weekly.mon[0]"},
        ),
        (
            weekly(sun=[["22:00", "06:00"]], mon=[["05:00", "09:00"]]),
            {f"{WH}.weekly.mon[0]": f"overlaps {WH}.weekly.sun[0]"},
        ),
        (
            weekly(mon=[["08:00", "08:00"]], tue=[["07:00", "09:00"]]),  # a 24-hour shift
            {f"{WH}.weekly.tue[0]": f"overlaps {WH}.weekly.mon[0]"},
        ),
        (office(holidays_country="XX"), {f"{WH}.holidays_country": "unknown holiday country"}),
        (office(holidays_country="de"), {f"{WH}.holidays_country": "upper-case"}),
        (office(holidays_country="DEU"), {f"{WH}.holidays_country": "alpha-2"}),
        (office(holidays_country=276), {f"{WH}.holidays_country": "unknown holiday country"}),
        (
            office(holidays_country="DE", holidays_subdivision="ZZ"),
            {f"{WH}.holidays_subdivision": "unknown subdivision of DE; expected one of Augsburg, BB, BE"},
        ),
        (
            office(holidays_country="AZ", holidays_subdivision="BA"),
            {f"{WH}.holidays_subdivision": "AZ has no subdivisions"},
        ),
        (office(holidays_subdivision="BY"), {f"{WH}.holidays_subdivision": "requires holidays_country"}),
        (office(closed_dates="2026-12-24"), {f"{WH}.closed_dates": "must be a list"}),
        (
            office(closed_dates=["2026-12-24", "2026-02-30", "20261224", 20261224, "2026-12-24T00:00"]),
            {f"{WH}.closed_dates[{index}]": '"YYYY-MM-DD"' for index in range(1, 5)},
        ),
        (
            office(closed_dates=["2026-01-01"] * 501),
            {f"{WH}.closed_dates": "at most 500 dates"},
        ),
        (office(always_open=1), {f"{WH}.always_open": "true or false"}),
        (office(always_open="true"), {f"{WH}.always_open": "true or false"}),
        (office(always_open=True), {f"{WH}.weekly": "no intervals when always_open"}),
        (
            {"always_open": True, "holidays_country": "DE", "closed_dates": ["2026-12-24"]},
            {f"{WH}.holidays_country": "always_open", f"{WH}.closed_dates": "always_open"},
        ),
    ],
)
def test_validation_reports_each_problem_by_field_path(document: object, errors: dict[str, str]) -> None:
    found = validate_hours(document)

    assert set(found) == set(errors)
    for path, fragment in errors.items():
        assert fragment in found[path]


def test_validation_reports_every_problem_at_once_under_the_callers_prefix() -> None:
    document = {
        "weekly": {"mon": [["8:00", "17:00"]], "funday": []},
        "holidays_country": "XX",
        "closed_dates": ["tomorrow"],
        "always_open": "no",
        "notes": "",
    }

    found = validate_hours(document, prefix="contacts[2].working_hours")

    assert set(found) == {
        "contacts[2].working_hours.weekly.mon[0][0]",
        "contacts[2].working_hours.weekly.funday",
        "contacts[2].working_hours.holidays_country",
        "contacts[2].working_hours.closed_dates[0]",
        "contacts[2].working_hours.always_open",
        "contacts[2].working_hours.notes",
    }


def test_empty_prefix_gives_paths_relative_to_the_document() -> None:
    found = validate_hours({"weekly": {"mon": [["08:00", "7pm"]]}, "extra": 1}, prefix="")

    assert set(found) == {"weekly.mon[0][1]", "extra"}
    assert set(validate_hours("08:00-17:00", prefix="")) == {""}


@pytest.mark.parametrize(
    "document",
    [
        office(holidays_country="DE", holidays_subdivision="BY", closed_dates=["2026-12-24"]),
        weekly(mon=[["08:00", "12:00"], ["12:00", "17:00"]]),  # touching is not overlapping
        weekly(mon=[["22:00", "06:00"]], tue=[["06:00", "09:00"]]),
        weekly(sun=[["22:00", "06:00"]], mon=[["06:00", "09:00"]]),
        weekly(mon=[["00:00", "00:00"]]),  # end <= start: 24 hours from midnight
        weekly(mon=[["22:00", "00:00"]], tue=[["00:00", "24:00"]]),
        weekly(**{day: [] for day in WORKDAYS}),
        weekly(mon=SEVEN[:6]),
        {"always_open": True},
        {"always_open": True, "weekly": {"mon": []}, "closed_dates": []},
        {"always_open": False, "weekly": {}},
        {"always_open": None, "weekly": {}, "holidays_country": None, "closed_dates": None},
    ],
)
def test_valid_documents_have_no_errors(document: dict[str, Any]) -> None:
    assert validate_hours(document) == {}


# ---------------------------------------------------------------- canonical form


def test_normalise_gives_the_canonical_document() -> None:
    document = {
        "closed_dates": ["2026-12-31", "2026-12-24", "2026-12-31"],
        "weekly": {"fri": [["13:00", "17:00"], ["08:00", "12:00"]], "mon": [["22:00", "00:00"]]},
        "holidays_country": "DE",
    }

    canonical = normalise_hours(document)

    assert canonical == {
        "weekly": {
            "mon": [["22:00", "24:00"]],
            "tue": [],
            "wed": [],
            "thu": [],
            "fri": [["08:00", "12:00"], ["13:00", "17:00"]],
            "sat": [],
            "sun": [],
        },
        "holidays_country": "DE",
        "closed_dates": ["2026-12-24", "2026-12-31"],
        "always_open": False,
    }
    assert list(canonical["weekly"]) == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert normalise_hours(canonical) == canonical


def test_normalise_keeps_the_meaning() -> None:
    document = weekly(mon=[["22:00", "00:00"]], tue=[["09:00", "10:00"]])
    at = berlin("2026-06-08 23:00")

    assert check(normalise_hours(document), BERLIN, at) == check(document, BERLIN, at)


def test_normalise_refuses_invalid_documents_with_field_paths() -> None:
    with pytest.raises(InvalidInput) as raised:
        normalise_hours(
            weekly(mon=[["08:00", "17:00"], ["16:00", "18:00"]]), prefix="contacts[0].working_hours"
        )

    assert raised.value.errors == {
        "contacts[0].working_hours.weekly.mon[1]": "overlaps contacts[0].working_hours.weekly.mon[0]"
    }
