"""Explicit, hand-computed cases for :mod:`sla.calendar`.

Every expectation below was worked out by hand from the rules of the public
contract (weekday 0 is Monday, half-open intervals ``[open, close)``, an end of
00:00 is midnight at the end of the day, wall-clock hours in the calendar's zone,
durations in real elapsed time).  Dates were checked against a real calendar:
2026-03-02 is a Monday, 2026-03-29 and 2026-10-25 are the Paris DST Sundays,
2026-03-08 and 2026-11-01 the New York ones.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from sla.calendar import (
    MON_FRI_9_18,
    TWENTY_FOUR_SEVEN,
    BusinessCalendar,
    CalendarError,
    HorizonError,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.UTC
T = dt.time
H = dt.timedelta(hours=1)
MIN = dt.timedelta(minutes=1)
US = dt.timedelta(microseconds=1)

#: A narrow horizon keeps index building instantaneous.
HORIZON = (dt.date(2025, 1, 1), dt.date(2028, 1, 1))


def paris(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, us, tzinfo=PARIS)


def new_york(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


def office(
    weekly_hours: dict[int, list[tuple[dt.time, dt.time]]] = MON_FRI_9_18,
    holidays: tuple[dt.date, ...] = (),
    timezone: str = "Europe/Paris",
) -> BusinessCalendar:
    return BusinessCalendar(timezone, weekly_hours, holidays, horizon=HORIZON)


def assert_same_instant_in_zone(result: dt.datetime, expected: dt.datetime) -> None:
    """Equal instant, same wall clock and offset, expressed in the expected zone."""
    assert result == expected
    assert str(result.tzinfo) == str(expected.tzinfo)
    assert result.utcoffset() == expected.utcoffset()
    assert result.replace(tzinfo=None) == expected.replace(tzinfo=None)


@pytest.fixture(scope="module")
def nine_to_six() -> BusinessCalendar:
    return office()


@pytest.fixture(scope="module")
def france() -> BusinessCalendar:
    return BusinessCalendar.for_country("FR", timezone="Europe/Paris", horizon=HORIZON)


@pytest.fixture(scope="module")
def alsace_moselle() -> BusinessCalendar:
    return BusinessCalendar.for_country("FR", "57", timezone="Europe/Paris", horizon=HORIZON)


LUNCH_BREAK = {d: [(T(9), T(12)), (T(14), T(18))] for d in range(5)}
SATURDAY_MORNINGS = {**{d: [(T(9), T(18))] for d in range(5)}, 5: [(T(9), T(13))]}


# -- start outside opening hours ------------------------------------------------


def test_ticket_received_in_the_evening_waits_for_next_morning(
    nine_to_six: BusinessCalendar,
) -> None:
    # Monday 20:00 + 1 h -> Tuesday 10:00
    assert nine_to_six.add(paris(2026, 3, 2, 20), H) == paris(2026, 3, 3, 10)


def test_ticket_received_at_night_waits_for_opening(nine_to_six: BusinessCalendar) -> None:
    # Tuesday 03:00 + 1 h -> Tuesday 10:00
    assert nine_to_six.add(paris(2026, 3, 3, 3), H) == paris(2026, 3, 3, 10)


def test_ticket_received_on_the_weekend_waits_for_monday(nine_to_six: BusinessCalendar) -> None:
    # Saturday 12:00 + 2 h -> Monday 11:00
    assert nine_to_six.add(paris(2026, 3, 7, 12), 2 * H) == paris(2026, 3, 9, 11)
    assert nine_to_six.between(paris(2026, 3, 7, 12), paris(2026, 3, 9, 11)) == 2 * H


def test_ticket_received_on_a_holiday_waits_for_next_business_day(
    france: BusinessCalendar,
) -> None:
    # Easter Monday 2026-04-06 10:00 + 1 h -> Tuesday 10:00
    assert france.add(paris(2026, 4, 6, 10), H) == paris(2026, 4, 7, 10)


def test_ticket_received_late_afternoon_carries_over_to_next_day(
    nine_to_six: BusinessCalendar,
) -> None:
    # Monday 17:00 + 3 h = 1 h on Monday + 2 h on Tuesday -> Tuesday 11:00
    assert nine_to_six.add(paris(2026, 3, 2, 17), 3 * H) == paris(2026, 3, 3, 11)


# -- boundaries -------------------------------------------------------------------


def test_start_at_exactly_opening_counts_from_opening(nine_to_six: BusinessCalendar) -> None:
    assert nine_to_six.add(paris(2026, 3, 2, 9), H) == paris(2026, 3, 2, 10)


def test_start_at_exactly_closing_counts_from_next_opening(nine_to_six: BusinessCalendar) -> None:
    assert nine_to_six.add(paris(2026, 3, 2, 18), H) == paris(2026, 3, 3, 10)


def test_a_full_day_ends_at_closing_not_next_morning(nine_to_six: BusinessCalendar) -> None:
    # the earliest instant: 09:00 + 9 h is 18:00 the same day, not Tuesday 09:00
    assert nine_to_six.add(paris(2026, 3, 2, 9), 9 * H) == paris(2026, 3, 2, 18)
    assert nine_to_six.add(paris(2026, 3, 2, 17), H) == paris(2026, 3, 2, 18)
    # and the next microsecond of work is on Tuesday
    assert nine_to_six.add(paris(2026, 3, 2, 9), 9 * H + US) == paris(2026, 3, 3, 9, us=1)


def test_is_open_at_opening_and_closed_at_closing(nine_to_six: BusinessCalendar) -> None:
    assert nine_to_six.is_open(paris(2026, 3, 2, 9)) is True
    assert nine_to_six.is_open(paris(2026, 3, 2, 8, 59, 59, 999_999)) is False
    assert nine_to_six.is_open(paris(2026, 3, 2, 17, 59, 59, 999_999)) is True
    assert nine_to_six.is_open(paris(2026, 3, 2, 18)) is False
    assert nine_to_six.is_open(paris(2026, 3, 7, 12)) is False  # Saturday


# -- zero, negative, naive ----------------------------------------------------------


def test_adding_zero_returns_the_start_itself(nine_to_six: BusinessCalendar) -> None:
    inside = paris(2026, 3, 2, 10)
    saturday = paris(2026, 3, 7, 12)
    assert nine_to_six.add(inside, dt.timedelta(0)) == inside
    # zero business time after a closed instant is that instant, not the next opening
    assert nine_to_six.add(saturday, dt.timedelta(0)) == saturday
    assert_same_instant_in_zone(
        nine_to_six.add(saturday.astimezone(UTC), dt.timedelta(0)), saturday
    )


def test_negative_duration_is_refused(nine_to_six: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="negative"):
        nine_to_six.add(paris(2026, 3, 2, 10), -US)


def test_naive_datetimes_are_refused_everywhere(nine_to_six: BusinessCalendar) -> None:
    naive = dt.datetime(2026, 3, 2, 10)
    aware = paris(2026, 3, 2, 10)
    with pytest.raises(ValueError, match="naive"):
        nine_to_six.add(naive, H)
    with pytest.raises(ValueError, match="naive"):
        nine_to_six.add(naive, dt.timedelta(0))
    with pytest.raises(ValueError, match="naive"):
        nine_to_six.between(naive, aware)
    with pytest.raises(ValueError, match="naive"):
        nine_to_six.between(aware, naive)
    with pytest.raises(ValueError, match="naive"):
        nine_to_six.is_open(naive)
    with pytest.raises(ValueError, match="naive"):
        nine_to_six.next_open(naive)


def test_between_is_negative_when_end_precedes_start(nine_to_six: BusinessCalendar) -> None:
    assert nine_to_six.between(paris(2026, 3, 3, 10), paris(2026, 3, 2, 10)) == -9 * H
    assert nine_to_six.between(paris(2026, 3, 2, 10), paris(2026, 3, 2, 10)) == dt.timedelta(0)


# -- long durations across holidays ------------------------------------------------


def test_ten_business_days_across_christmas_and_new_year_in_france(
    france: BusinessCalendar,
) -> None:
    # open days: Dec 22 23 24 (25 closed) 26 29 30 31 (Jan 1 closed) Jan 2 5 6
    start = paris(2025, 12, 22, 9)
    assert france.add(start, 90 * H) == paris(2026, 1, 6, 18)
    assert france.between(start, paris(2026, 1, 6, 18)) == 90 * H
    assert france.between(paris(2025, 12, 24, 18), paris(2025, 12, 26, 9)) == dt.timedelta(0)


def test_ten_business_days_across_christmas_in_alsace_moselle(
    alsace_moselle: BusinessCalendar,
) -> None:
    # 26 December is also closed there: the tenth day is Wednesday Jan 7
    assert alsace_moselle.add(paris(2025, 12, 22, 9), 90 * H) == paris(2026, 1, 7, 18)


def test_three_weeks_across_the_may_holidays_in_france(france: BusinessCalendar) -> None:
    # May 2026: 8 (Fri), 14 (Thu, Ascension) and 25 (Mon, Pentecost) are closed;
    # the 15th open day from Monday May 4 is Wednesday May 27; May has 21 weekdays,
    # four of them holidays (1, 8, 14, 25)
    assert france.add(paris(2026, 5, 4, 9), 15 * 9 * H) == paris(2026, 5, 27, 18)
    assert france.between(paris(2026, 5, 1, 0), paris(2026, 6, 1, 0)) == (21 - 4) * 9 * H


# -- lunch breaks and Saturday half-days -----------------------------------------------


def test_lunch_break_is_not_business_time() -> None:
    calendar = office(LUNCH_BREAK)
    monday = (2026, 3, 2)
    assert calendar.add(paris(*monday, 11), 2 * H) == paris(*monday, 15)
    # earliest: the morning's last hour ends at 12:00, not at 14:00
    assert calendar.add(paris(*monday, 11), H) == paris(*monday, 12)
    assert calendar.between(paris(*monday, 10), paris(*monday, 15)) == 3 * H
    assert calendar.between(paris(*monday, 0), paris(2026, 3, 3, 0)) == 7 * H
    assert calendar.is_open(paris(*monday, 11, 59)) is True
    assert calendar.is_open(paris(*monday, 12)) is False
    assert calendar.is_open(paris(*monday, 13, 59)) is False
    assert calendar.is_open(paris(*monday, 14)) is True
    assert calendar.next_open(paris(*monday, 12, 30)) == paris(*monday, 14)
    # a ticket arriving during lunch starts at 14:00
    assert calendar.add(paris(*monday, 12, 30), 30 * MIN) == paris(*monday, 14, 30)


def test_saturday_half_day_counts_and_sunday_does_not() -> None:
    calendar = office(SATURDAY_MORNINGS)
    # Friday 17:00 + 3 h: 1 h on Friday, 2 h on Saturday morning
    assert calendar.add(paris(2026, 3, 6, 17), 3 * H) == paris(2026, 3, 7, 11)
    # Saturday 12:00 + 2 h: 1 h before 13:00, then Monday 09:00-10:00
    assert calendar.add(paris(2026, 3, 7, 12), 2 * H) == paris(2026, 3, 9, 10)
    assert calendar.between(paris(2026, 3, 6, 9), paris(2026, 3, 9, 9)) == 13 * H
    assert calendar.is_open(paris(2026, 3, 7, 13)) is False
    assert calendar.next_open(paris(2026, 3, 7, 13)) == paris(2026, 3, 9, 9)


# -- daylight saving time ---------------------------------------------------------------


def test_office_hours_over_the_paris_dst_weekends_are_unaffected() -> None:
    calendar = office()
    # Friday 17:00 + 2 h -> Monday 10:00, in spring and autumn
    assert calendar.add(paris(2026, 3, 27, 17), 2 * H) == paris(2026, 3, 30, 10)
    assert calendar.add(paris(2026, 10, 23, 17), 2 * H) == paris(2026, 10, 26, 10)
    # a full week either side still holds 45 h
    assert calendar.between(paris(2026, 3, 23), paris(2026, 3, 30)) == 45 * H
    assert calendar.between(paris(2026, 3, 30), paris(2026, 4, 6)) == 45 * H


def test_twenty_four_seven_has_a_23_hour_and_a_25_hour_day_in_paris() -> None:
    calendar = office(TWENTY_FOUR_SEVEN)
    assert calendar.between(paris(2026, 3, 29), paris(2026, 3, 30)) == 23 * H
    assert calendar.between(paris(2026, 3, 28), paris(2026, 3, 30)) == 47 * H
    assert calendar.between(paris(2026, 10, 25), paris(2026, 10, 26)) == 25 * H
    assert calendar.between(paris(2026, 10, 24), paris(2026, 10, 26)) == 49 * H
    assert calendar.between(paris(2026, 3, 1), paris(2026, 11, 1)) == (245 * 24) * H
    # 24 h of elapsed time from Sunday midnight
    assert calendar.add(paris(2026, 3, 29), 24 * H) == paris(2026, 3, 30, 1)
    assert calendar.add(paris(2026, 10, 25), 24 * H) == paris(2026, 10, 25, 23)
    assert calendar.is_open(paris(2026, 3, 29, 2, 30)) is True


def test_twenty_four_seven_has_a_23_hour_and_a_25_hour_day_in_new_york() -> None:
    calendar = office(TWENTY_FOUR_SEVEN, timezone="America/New_York")
    assert calendar.between(new_york(2026, 3, 8), new_york(2026, 3, 9)) == 23 * H
    assert calendar.between(new_york(2026, 11, 1), new_york(2026, 11, 2)) == 25 * H
    assert calendar.add(new_york(2026, 3, 8), 3 * H) == new_york(2026, 3, 8, 4)
    assert calendar.add(new_york(2026, 11, 1), 3 * H) == new_york(2026, 11, 1, 2)


NIGHT_SHIFT = {6: [(T(1), T(4))]}  # Sundays 01:00-04:00, across the 02:00-03:00 change


def test_hours_across_the_paris_spring_gap_last_two_real_hours() -> None:
    calendar = office(NIGHT_SHIFT)
    sunday = (2026, 3, 29)  # 02:00 CET jumps to 03:00 CEST
    assert calendar.between(paris(*sunday), paris(*sunday, 12)) == 2 * H
    # 01:00 CET + 1 h = 03:00 CEST, + 1 h 30 = 03:30 CEST
    assert_same_instant_in_zone(calendar.add(paris(*sunday, 1), 90 * MIN), paris(*sunday, 3, 30))
    assert calendar.add(paris(*sunday, 1), 2 * H) == paris(*sunday, 4)
    assert calendar.is_open(paris(*sunday, 3, 59)) is True
    assert calendar.is_open(paris(*sunday, 4)) is False
    # the next Sunday has three hours again
    assert calendar.between(paris(2026, 4, 5), paris(2026, 4, 5, 12)) == 3 * H


def test_hours_across_the_paris_autumn_fold_last_four_real_hours() -> None:
    calendar = office(NIGHT_SHIFT)
    sunday = (2026, 10, 25)  # 03:00 CEST goes back to 02:00 CET
    assert calendar.between(paris(*sunday), paris(*sunday, 12)) == 4 * H
    # 01:00 CEST + 1 h 30 = the first 02:30 (CEST); + 2 h 30 = the second 02:30 (CET)
    first = calendar.add(paris(*sunday, 1), 90 * MIN)
    second = calendar.add(paris(*sunday, 1), 150 * MIN)
    # (compared in UTC: Python never finds an ambiguous local time equal to another zone's)
    assert first.astimezone(UTC) == dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert first.utcoffset() == 2 * H
    assert second.astimezone(UTC) == dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert second.utcoffset() == H
    assert second.replace(tzinfo=None) == first.replace(tzinfo=None) == dt.datetime(*sunday, 2, 30)
    assert calendar.add(paris(*sunday, 1), 4 * H) == paris(*sunday, 4)


def test_hours_across_the_new_york_dst_nights() -> None:
    calendar = office({6: [(T(0), T(6))]}, timezone="America/New_York")
    # 2026-03-08: 02:00 EST jumps to 03:00 EDT; 2026-11-01: 02:00 EDT back to 01:00 EST
    assert calendar.between(new_york(2026, 3, 8), new_york(2026, 3, 9)) == 5 * H
    assert calendar.between(new_york(2026, 11, 1), new_york(2026, 11, 2)) == 7 * H
    assert calendar.add(new_york(2026, 3, 8), 3 * H) == new_york(2026, 3, 8, 4)
    assert calendar.add(new_york(2026, 11, 1), 6 * H) == new_york(2026, 11, 1, 5)


def test_night_shift_across_midnight_and_the_spring_gap() -> None:
    # Saturday 22:00-midnight then Sunday 00:00-06:00: one continuous shift
    calendar = office({5: [(T(22), T(0))], 6: [(T(0), T(6))]})
    saturday, sunday = (2026, 3, 28), (2026, 3, 29)
    assert calendar.between(paris(*saturday, 21), paris(*sunday, 7)) == 7 * H
    assert calendar.add(paris(*saturday, 23), 2 * H) == paris(*sunday, 1)
    assert calendar.add(paris(*saturday, 23), 3 * H) == paris(*sunday, 3)
    assert calendar.next_open(paris(*saturday, 20)) == paris(*saturday, 22)
    assert calendar.is_open(paris(*sunday)) is True


def test_hours_inside_the_spring_gap_count_every_open_instant_once() -> None:
    # On 2026-03-29 in Paris, 02:xx does not exist: 02:10 reads as 03:10 CEST,
    # 02:20-02:40 as 03:20-03:40 CEST, and 03:00-04:00 covers 03:00-04:00 CEST.
    # Open instants in real time: 01:00 CET-04:00 CEST, i.e. 00:00-02:00 UTC.
    calendar = office({6: [(T(1), T(2, 10)), (T(2, 20), T(2, 40)), (T(3), T(4))]})
    sunday = (2026, 3, 29)
    assert calendar.is_open(paris(*sunday, 3, 15)) is True  # inside 03:00-04:00
    assert calendar.between(paris(*sunday), paris(*sunday, 12)) == 2 * H
    assert calendar.add(paris(*sunday), 2 * H) == paris(*sunday, 4)


# -- French public holidays -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("holiday", "name"),
    [
        (dt.date(2026, 4, 6), "Easter Monday"),
        (dt.date(2026, 5, 14), "Ascension"),
        (dt.date(2026, 5, 25), "Pentecost Monday"),
        (dt.date(2026, 5, 1), "Labour Day"),
        (dt.date(2026, 7, 14), "Bastille Day"),
    ],
)
def test_french_public_holidays_are_closed(
    france: BusinessCalendar, holiday: dt.date, name: str
) -> None:
    noon = dt.datetime.combine(holiday, T(12), PARIS)
    assert france.is_open(noon) is False, name
    assert france.between(noon.replace(hour=0), noon.replace(hour=23)) == dt.timedelta(0), name
    assert holiday in france.holidays


def test_ascension_and_pentecost_push_deadlines(france: BusinessCalendar) -> None:
    # Wednesday May 13 17:00 + 2 h: 1 h Wednesday, Thursday closed -> Friday 10:00
    assert france.add(paris(2026, 5, 13, 17), 2 * H) == paris(2026, 5, 15, 10)
    # Friday May 22 17:00 + 2 h: Monday 25 closed -> Tuesday 26 10:00
    assert france.add(paris(2026, 5, 22, 17), 2 * H) == paris(2026, 5, 26, 10)


def test_alsace_moselle_closes_on_good_friday_and_saint_stephen(
    france: BusinessCalendar, alsace_moselle: BusinessCalendar
) -> None:
    good_friday = paris(2026, 4, 3, 10)
    saint_stephen = paris(2025, 12, 26, 10)  # a Friday
    assert alsace_moselle.is_open(good_friday) is False
    assert alsace_moselle.is_open(saint_stephen) is False
    assert france.is_open(good_friday) is True
    assert france.is_open(saint_stephen) is True
    # and Moselle keeps every national holiday
    assert alsace_moselle.is_open(paris(2026, 4, 6, 10)) is False
    assert france.holidays < alsace_moselle.holidays
    assert (alsace_moselle.country, alsace_moselle.subdiv) == ("FR", "57")


def test_good_friday_to_easter_tuesday_in_alsace_moselle(
    france: BusinessCalendar, alsace_moselle: BusinessCalendar
) -> None:
    thursday_evening = paris(2026, 4, 2, 18, 30)
    assert alsace_moselle.next_open(thursday_evening) == paris(2026, 4, 7, 9)
    assert france.next_open(thursday_evening) == paris(2026, 4, 3, 9)


def test_for_country_accepts_extra_holidays_and_custom_hours() -> None:
    calendar = BusinessCalendar.for_country(
        "FR",
        timezone="Europe/Paris",
        weekly_hours=SATURDAY_MORNINGS,
        extra_holidays=[dt.date(2026, 3, 7)],
        horizon=HORIZON,
    )
    assert calendar.is_open(paris(2026, 3, 7, 10)) is False  # the extra closed Saturday
    assert calendar.is_open(paris(2026, 3, 14, 10)) is True  # an ordinary Saturday
    assert calendar.is_open(paris(2026, 4, 6, 10)) is False  # Easter Monday


# -- configuration errors --------------------------------------------------------------------


def test_unknown_country_is_a_clear_calendar_error() -> None:
    with pytest.raises(CalendarError, match=r"country.*'XX'"):
        BusinessCalendar.for_country("XX", timezone="Europe/Paris", horizon=HORIZON)
    with pytest.raises(CalendarError, match=r"country.*'XX'"):
        BusinessCalendar.for_country("XX", "57", timezone="Europe/Paris", horizon=HORIZON)


def test_unknown_subdivision_is_reported_as_such() -> None:
    with pytest.raises(CalendarError, match=r"subdiv") as raised:
        BusinessCalendar.for_country("FR", "99", timezone="Europe/Paris", horizon=HORIZON)
    message = str(raised.value)
    assert "99" in message
    assert "no public holidays known for 'FR'" not in message  # France is known


def test_unknown_timezone_is_a_clear_calendar_error() -> None:
    with pytest.raises(CalendarError, match=r"time zone 'Mars/Olympus_Mons'"):
        BusinessCalendar("Mars/Olympus_Mons", MON_FRI_9_18, horizon=HORIZON)
    with pytest.raises(CalendarError, match=r"time zone 'Europe/Pariss'"):
        BusinessCalendar.for_country("FR", timezone="Europe/Pariss", horizon=HORIZON)


@pytest.mark.parametrize(
    ("weekly_hours", "message"),
    [
        ({0: [(T(18), T(9))]}, "ends before it starts"),
        ({0: [(T(9), T(9))]}, "ends before it starts"),
        ({0: [(T(9), T(12)), (T(11), T(14))]}, "overlaps"),
        ({0: [(T(14), T(18)), (T(9), T(14, 30))]}, "overlaps"),
        ({0: [(T(20), T(0)), (T(22), T(23))]}, "overlaps"),
        ({7: [(T(9), T(18))]}, "weekday 7"),
        ({-1: [(T(9), T(18))]}, "weekday -1"),
        ({}, "no opening hours"),
        ({0: [], 1: []}, "no opening hours"),
        ({0: [(T(9, tzinfo=dt.UTC), T(18))]}, "must not carry a time zone"),
    ],
)
def test_invalid_weekly_hours_are_rejected(
    weekly_hours: dict[int, list[tuple[dt.time, dt.time]]], message: str
) -> None:
    with pytest.raises(CalendarError, match=message):
        BusinessCalendar("Europe/Paris", weekly_hours, horizon=HORIZON)


def test_invalid_holidays_and_horizon_are_rejected() -> None:
    with pytest.raises(CalendarError, match="not a date"):
        BusinessCalendar("Europe/Paris", MON_FRI_9_18, [dt.datetime(2026, 1, 1, tzinfo=UTC)])
    with pytest.raises(CalendarError, match="horizon"):
        BusinessCalendar(
            "Europe/Paris", MON_FRI_9_18, horizon=(dt.date(2027, 1, 1), dt.date(2026, 1, 1))
        )


def test_calendar_errors_are_value_errors() -> None:
    assert issubclass(CalendarError, ValueError)
    assert issubclass(HorizonError, CalendarError)


# -- horizon --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def year_2026() -> BusinessCalendar:
    return BusinessCalendar(
        "Europe/Paris", MON_FRI_9_18, horizon=(dt.date(2026, 1, 1), dt.date(2027, 1, 1))
    )


def test_instants_outside_the_horizon_raise(year_2026: BusinessCalendar) -> None:
    before, inside = paris(2025, 12, 31, 12), paris(2026, 6, 1, 12)
    after = paris(2027, 1, 1, 0, 0, 0, 1)
    for outside in (before, after):
        with pytest.raises(HorizonError, match="horizon"):
            year_2026.between(outside, inside)
        with pytest.raises(HorizonError, match="horizon"):
            year_2026.between(inside, outside)
        with pytest.raises(HorizonError):
            year_2026.add(outside, H)
        with pytest.raises(HorizonError):
            year_2026.is_open(outside)
        with pytest.raises(HorizonError):
            year_2026.next_open(outside)


def test_horizon_bounds_are_local_midnights_and_inclusive(year_2026: BusinessCalendar) -> None:
    assert year_2026.between(paris(2026, 1, 1), paris(2027, 1, 1)) == 261 * 9 * H
    assert year_2026.between(paris(2026, 12, 31, 9), paris(2027, 1, 1)) == 9 * H
    with pytest.raises(HorizonError):
        year_2026.between(paris(2026, 12, 31, 23).astimezone(UTC), paris(2027, 1, 1) + US)


def test_results_beyond_the_horizon_raise(year_2026: BusinessCalendar) -> None:
    # Thursday Dec 31 17:00: one hour is left inside the horizon, not two
    assert year_2026.add(paris(2026, 12, 31, 17), H) == paris(2026, 12, 31, 18)
    with pytest.raises(HorizonError, match="beyond"):
        year_2026.add(paris(2026, 12, 31, 17), H + US)
    with pytest.raises(HorizonError):
        year_2026.next_open(paris(2026, 12, 31, 18, 30))


def test_default_horizon_spans_1970_to_2100() -> None:
    calendar = BusinessCalendar("Europe/Paris", MON_FRI_9_18)
    assert calendar.horizon == (dt.date(1970, 1, 1), dt.date(2100, 1, 1))
    assert calendar.add(paris(2099, 12, 31, 9), 9 * H) == paris(2099, 12, 31, 18)
    assert calendar.add(dt.datetime(1970, 1, 1, tzinfo=PARIS), H) == paris(1970, 1, 1, 10)
    with pytest.raises(HorizonError):
        calendar.is_open(paris(2100, 6, 1, 12))
    with pytest.raises(HorizonError):
        calendar.between(paris(1969, 12, 31, 12), paris(2026, 1, 1))
    with pytest.raises(HorizonError):
        calendar.add(paris(2099, 12, 31, 9), 9 * H + US)


def test_a_calendar_never_open_inside_its_horizon_is_an_error() -> None:
    only_christmas_2026 = BusinessCalendar(
        "Europe/Paris",
        MON_FRI_9_18,
        [dt.date(2026, 12, 24) + dt.timedelta(days=n) for n in range(8)],
        horizon=(dt.date(2026, 12, 26), dt.date(2027, 1, 1)),
    )
    with pytest.raises(CalendarError, match="never open"):
        only_christmas_2026.is_open(paris(2026, 12, 28, 10))


# -- next_open --------------------------------------------------------------------------------


def test_next_open_from_friday_evening_is_monday_morning(nine_to_six: BusinessCalendar) -> None:
    result = nine_to_six.next_open(paris(2026, 3, 6, 18, 30))
    assert_same_instant_in_zone(result, paris(2026, 3, 9, 9))


def test_next_open_skips_a_monday_holiday(france: BusinessCalendar) -> None:
    # Friday April 3 18:30 (Good Friday is a working day in most of France)
    assert france.next_open(paris(2026, 4, 3, 18, 30)) == paris(2026, 4, 7, 9)


def test_next_open_when_already_open_is_now(nine_to_six: BusinessCalendar) -> None:
    now = paris(2026, 3, 2, 10, 15, 30, 123_456)
    assert nine_to_six.next_open(now) == now
    assert nine_to_six.next_open(paris(2026, 3, 2, 9)) == paris(2026, 3, 2, 9)
    assert nine_to_six.next_open(paris(2026, 3, 2, 18)) == paris(2026, 3, 3, 9)


# -- input and output zones ----------------------------------------------------------------------


def test_inputs_in_utc_or_new_york_are_the_same_instants(nine_to_six: BusinessCalendar) -> None:
    nine_paris = paris(2026, 3, 2, 9)
    as_utc = dt.datetime(2026, 3, 2, 8, tzinfo=UTC)
    as_new_york = new_york(2026, 3, 2, 3)
    assert as_utc == as_new_york == nine_paris
    for start in (nine_paris, as_utc, as_new_york):
        assert_same_instant_in_zone(nine_to_six.add(start, H), paris(2026, 3, 2, 10))
        assert nine_to_six.is_open(start) is True
        assert nine_to_six.between(start, new_york(2026, 3, 2, 12)) == 9 * H
    # 17:30 in New York on Monday is 23:30 in Paris: closed
    assert nine_to_six.is_open(new_york(2026, 3, 2, 17, 30)) is False
    fixed = dt.timezone(dt.timedelta(hours=5, minutes=30))
    assert_same_instant_in_zone(
        nine_to_six.next_open(dt.datetime(2026, 3, 2, 23, tzinfo=fixed)), paris(2026, 3, 3, 9)
    )


def test_results_are_in_the_calendars_zone_across_dst(nine_to_six: BusinessCalendar) -> None:
    summer = nine_to_six.add(dt.datetime(2026, 7, 1, 7, tzinfo=UTC), H)
    winter = nine_to_six.add(dt.datetime(2026, 12, 1, 8, tzinfo=UTC), H)
    assert_same_instant_in_zone(summer, paris(2026, 7, 1, 10))
    assert_same_instant_in_zone(winter, paris(2026, 12, 1, 10))
    assert summer.utcoffset() == 2 * H
    assert winter.utcoffset() == H


# -- exactness -----------------------------------------------------------------------------


def test_microsecond_exactness(nine_to_six: BusinessCalendar) -> None:
    monday = (2026, 3, 2)
    almost_a_day = 9 * H - US
    assert nine_to_six.add(paris(*monday, 9), almost_a_day) == paris(*monday, 17, 59, 59, 999_999)
    assert nine_to_six.add(paris(*monday, 17, 59, 59, 999_999), 2 * US) == paris(
        2026, 3, 3, 9, 0, 0, 1
    )
    assert nine_to_six.between(paris(*monday, 9, 0, 0, 1), paris(2026, 3, 3, 9, 0, 0, 2)) == (
        9 * H + US
    )
    assert nine_to_six.between(paris(*monday, 18), paris(2026, 3, 3, 9)) == dt.timedelta(0)


def test_long_durations_stay_exact(nine_to_six: BusinessCalendar) -> None:
    # 1000 h plus one microsecond = 111 days of 9 h plus 1 h plus 1 µs
    start = paris(2026, 1, 5, 9)  # a Monday
    result = nine_to_six.add(start, 1000 * H + US)
    # 111 business days = 22 weeks (Jan 5 to Friday June 5) + Monday June 8; the last
    # hour and microsecond fall on Tuesday June 9
    assert result == paris(2026, 6, 9, 10, 0, 0, 1)
    assert nine_to_six.between(start, result) == 1000 * H + US


def test_equal_definitions_make_equal_calendars() -> None:
    a = office(LUNCH_BREAK, holidays=(dt.date(2026, 1, 1),))
    b = office(
        {d: [(T(14), T(18)), (T(9), T(12))] for d in range(5)}, holidays=(dt.date(2026, 1, 1),)
    )
    assert a == b
    assert hash(a) == hash(b)
    assert a != office(LUNCH_BREAK)


# -- opening spans kept between runs ----------------------------------------------------


def test_a_calendar_given_the_spans_of_another_build_answers_alike(
    alsace_moselle: BusinessCalendar,
) -> None:
    starts, ends = alsace_moselle.opening_spans()
    again = BusinessCalendar("Europe/Paris", MON_FRI_9_18, alsace_moselle.holidays, horizon=HORIZON)
    again.adopt_spans(starts, ends)
    assert again.opening_spans() == (starts, ends)
    good_friday = paris(2026, 4, 2, 17)  # Thursday evening, then Good Friday, closed in Moselle
    for start, duration in ((good_friday, 2 * H), (paris(2026, 12, 24, 17), 3 * H)):
        assert again.add(start, duration) == alsace_moselle.add(start, duration)
        assert again.between(start, start + 80 * H) == alsace_moselle.between(start, start + 80 * H)


@pytest.mark.parametrize(
    "damage",
    ["unsorted", "overlapping", "empty", "beyond", "unpaired"],
)
def test_spans_no_calendar_could_have_are_refused(damage: str) -> None:
    calendar = office()
    starts, ends = calendar.opening_spans()
    if damage == "unsorted":
        starts[3], starts[4], ends[3], ends[4] = starts[4], starts[3], ends[4], ends[3]
    elif damage == "overlapping":
        ends[3] = starts[4] + 1
    elif damage == "empty":
        ends[3] = starts[3]
    elif damage == "beyond":
        ends[-1] += 400 * 24 * 3_600_000_000
    else:
        ends.pop()
    fresh = office()
    with pytest.raises(CalendarError):
        fresh.adopt_spans(starts, ends)
    assert fresh.opening_spans() == calendar.opening_spans()  # built as usual instead
