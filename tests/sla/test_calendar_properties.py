"""Properties of :class:`sla.calendar.BusinessCalendar` against a slow reference.

The reference below knows nothing of the calendar's index: it walks local dates
one by one, turns each opening interval of each open day into two aware datetimes
with ``datetime.combine(day, time, zone)`` (an end of 00:00 is the next day's
midnight), converts them to UTC and takes the union of what it meets.  Random
calendars (lunch breaks, Saturday half-days, night shifts, random holidays, zones
with one-hour and half-hour DST changes) and random instants (in any zone, often on
an opening or closing boundary, sometimes outside the horizon) are checked against
it, together with algebraic laws that must hold whatever the reference says.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, reject, settings
from hypothesis import strategies as st

from sla.calendar import (
    MEMO_BUCKET_US,
    BusinessCalendar,
    HorizonError,
    SpanMemo,
    from_us,
    to_us,
)

UTC = dt.UTC
US = dt.timedelta(microseconds=1)
ONE_DAY = dt.timedelta(days=1)
MIDNIGHT = dt.time(0)
HOUR_US = 3_600_000_000

CALENDAR_ZONES = (
    "Europe/Paris",
    "America/New_York",
    "UTC",
    "Asia/Kolkata",
    "Australia/Lord_Howe",  # DST changes by 30 minutes
)
INPUT_ZONES: tuple[dt.tzinfo, ...] = (
    *(ZoneInfo(name) for name in CALENDAR_ZONES),
    UTC,
    ZoneInfo("Asia/Tokyo"),
    dt.timezone(dt.timedelta(hours=-3, minutes=-30)),
)

#: A narrow horizon keeps the index small; generated instants mostly stay inside
#: WINDOW, which holds every DST change of late 2025 to 2026 in both hemispheres.
HORIZON = (dt.date(2025, 9, 1), dt.date(2026, 12, 1))
WINDOW = (dt.date(2025, 9, 15), dt.date(2026, 11, 15))
DST_DAYS = (
    dt.date(2025, 10, 5),  # Lord Howe forward
    dt.date(2025, 10, 26),  # Paris back
    dt.date(2025, 11, 2),  # New York back
    dt.date(2026, 3, 8),  # New York forward
    dt.date(2026, 3, 29),  # Paris forward
    dt.date(2026, 4, 5),  # Lord Howe back
    dt.date(2026, 10, 4),  # Lord Howe forward
    dt.date(2026, 10, 25),  # Paris back
    dt.date(2026, 11, 1),  # New York back
)


# -- calendar definitions ----------------------------------------------------------

Interval = tuple[dt.time, dt.time]
DayHours = tuple[Interval, ...]


@dataclass(frozen=True)
class Spec:
    """A calendar definition, hashable so that built calendars can be cached."""

    timezone: str
    week: tuple[DayHours, ...]  # seven entries, Monday first
    holidays: frozenset[dt.date]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def weekly_hours(self) -> dict[int, list[Interval]]:
        return {weekday: list(day) for weekday, day in enumerate(self.week) if day}


@functools.lru_cache(maxsize=256)
def calendar_of(spec: Spec) -> BusinessCalendar:
    return BusinessCalendar(spec.timezone, spec.weekly_hours(), spec.holidays, horizon=HORIZON)


def minute_time(minute: int) -> dt.time:
    return MIDNIGHT if minute == 1440 else dt.time(minute // 60, minute % 60)


#: Minutes of the day; 1440 is the midnight that ends the day.  Times around the
#: DST changes (01:30-03:00) and office hours are drawn often.
MINUTES = st.one_of(
    st.sampled_from([0, 60, 90, 120, 130, 150, 180, 540, 720, 840, 1080, 1440]),
    st.integers(0, 1440),
)


@st.composite
def day_hours(draw: st.DrawFn) -> DayHours:
    """Cut the day at sorted points and open some of the pieces.

    Adjacent open pieces make touching intervals; closed pieces make breaks.
    """
    return open_pieces(draw, sorted(draw(st.lists(MINUTES, min_size=2, max_size=6, unique=True))))


def open_pieces(draw: st.DrawFn, cuts: list[int]) -> DayHours:
    """The pieces between consecutive cuts that a drawn bit mask opens."""
    mask = draw(st.integers(0, 2 ** (len(cuts) - 1) - 1))
    return tuple(
        (minute_time(cuts[i]), minute_time(cuts[i + 1]))
        for i in range(len(cuts) - 1)
        if mask >> i & 1
    )


def _template(days: dict[int, list[tuple[int, int]]]) -> tuple[DayHours, ...]:
    return tuple(
        tuple((minute_time(a), minute_time(b)) for a, b in days.get(weekday, []))
        for weekday in range(7)
    )


TEMPLATES = (
    _template({d: [(540, 1080)] for d in range(5)}),  # Monday-Friday 9-18
    _template({d: [(540, 720), (840, 1080)] for d in range(5)}),  # lunch break
    _template({**{d: [(540, 1080)] for d in range(5)}, 5: [(540, 780)]}),  # Saturday mornings
    _template({d: [(0, 1440)] for d in range(7)}),  # 24/7
    _template({5: [(1320, 1440)], 6: [(0, 360)]}),  # weekend night shift over the DST hour
    _template({6: [(60, 240)]}),  # Sundays 01:00-04:00 only
)

#: Ready-made days, drawn cheaply; random days (``day_hours``) add the unusual ones.
DAY_POOL = tuple(
    tuple((minute_time(a), minute_time(b)) for a, b in day)
    for day in (
        [],
        [],
        [(540, 1080)],
        [(540, 720), (840, 1080)],  # lunch break
        [(540, 780)],  # half-day
        [(0, 1440)],
        [(0, 360)],  # over the DST changes
        [(60, 240)],
        [(1320, 1440)],  # evening until midnight
        [(90, 150), (150, 180)],  # touching intervals
    )
)


@st.composite
def weeks(draw: st.DrawFn) -> tuple[DayHours, ...]:
    """A template week or a week of ready-made days, with up to two random days."""
    if draw(st.booleans()):
        week = list(draw(st.sampled_from(TEMPLATES)))
    else:
        week = [draw(st.sampled_from(DAY_POOL)) for _ in range(7)]
    for weekday in draw(st.lists(st.integers(0, 6), max_size=2)):
        week[weekday] = draw(day_hours())
    assume(any(week))
    return tuple(week)


HOLIDAYS = st.frozensets(
    st.one_of(
        st.dates(min_value=WINDOW[0], max_value=WINDOW[1]),
        st.sampled_from(DST_DAYS),
    ),
    max_size=25,
)

SPECS = st.builds(Spec, st.sampled_from(CALENDAR_ZONES), weeks(), HOLIDAYS)


# -- instants and durations --------------------------------------------------------


def utc_at(day: dt.date, minute: int, zone: ZoneInfo, fold: int) -> dt.datetime:
    if minute == 1440:
        day, minute = day + ONE_DAY, 0
    local = dt.datetime.combine(day, minute_time(minute), zone).replace(fold=fold)
    return local.astimezone(UTC)


@st.composite
def instants(draw: st.DrawFn, spec: Spec) -> dt.datetime:
    """Aware datetimes in random zones: anywhere, on a boundary, or near the horizon."""
    kind = draw(st.sampled_from(["anywhere", "boundary", "boundary", "horizon"]))
    if kind == "anywhere":
        start = dt.datetime.combine(WINDOW[0], MIDNIGHT, UTC)
        span = (WINDOW[1] - WINDOW[0]) // US
        instant = start + draw(st.integers(0, span)) * US
    elif kind == "boundary":
        boundaries = sorted({m for day in spec.week for pair in day for m in _minutes(pair)})
        day = draw(st.one_of(st.sampled_from(DST_DAYS), st.dates(WINDOW[0], WINDOW[1])))
        minute = draw(st.sampled_from(boundaries or [540]))
        nudge = draw(st.sampled_from([-US, dt.timedelta(0), dt.timedelta(0), US]))
        instant = utc_at(day, minute, spec.zone, draw(st.integers(0, 1))) + nudge
    else:
        edge = draw(st.sampled_from(HORIZON))
        instant = (
            utc_at(edge, 0, spec.zone, 0)
            + draw(st.integers(-3 * 86_400, 3 * 86_400)) * (dt.timedelta(seconds=1))
            + draw(st.sampled_from([-US, dt.timedelta(0), US]))
        )
    return instant.astimezone(draw(st.sampled_from(INPUT_ZONES)))


def _minutes(pair: Interval) -> tuple[int, int]:
    start, end = pair
    end_minute = 1440 if end == MIDNIGHT else end.hour * 60 + end.minute
    return start.hour * 60 + start.minute, end_minute


DURATIONS = st.one_of(
    st.just(0),
    st.integers(1, 10**6),  # up to a second
    st.integers(0, 21 * 86_400 * 10**6),  # up to three weeks
    st.sampled_from([1, 9, 24, 45]).map(lambda hours: hours * 3_600 * 10**6),
).map(lambda micros: dt.timedelta(microseconds=micros))


# -- the reference -------------------------------------------------------------------


def local_date(at: dt.datetime, spec: Spec) -> dt.date:
    return at.astimezone(spec.zone).date()


def open_spans(
    spec: Spec, first: dt.date, last: dt.date
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """UTC spans of every opening interval of the open days in [first, last), clipped
    to the horizon, day by day, each day's spans sorted by start.  Spans may
    overlap (a DST gap can make wall-clock times land out of order): callers take
    the union with a cursor, which is exact because no tested zone changes its
    clocks around midnight, so a day's spans never start before the previous day's."""
    zone = spec.zone
    day = max(first, HORIZON[0])
    while day < min(last, HORIZON[1]):
        if day not in spec.holidays:
            spans = []
            for open_at, close_at in spec.week[day.weekday()]:
                close_day = day + ONE_DAY if close_at == MIDNIGHT else day
                start = dt.datetime.combine(day, open_at, zone).astimezone(UTC)
                end = dt.datetime.combine(close_day, close_at, zone).astimezone(UTC)
                if start < end:
                    spans.append((start, end))
            yield from sorted(spans)
        day += ONE_DAY


def in_horizon(spec: Spec, at: dt.datetime) -> bool:
    low = dt.datetime.combine(HORIZON[0], MIDNIGHT, spec.zone)
    high = dt.datetime.combine(HORIZON[1], MIDNIGHT, spec.zone)
    return low <= at <= high


def ref_between(spec: Spec, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end < start:
        return -ref_between(spec, end, start)
    total = dt.timedelta(0)
    cursor = start
    days = (local_date(start, spec) - 2 * ONE_DAY, local_date(end, spec) + 2 * ONE_DAY)
    for span_start, span_end in open_spans(spec, *days):
        lo, hi = max(span_start, cursor), min(span_end, end)
        if lo < hi:
            total += hi - lo
            cursor = hi
    return total


def ref_add(spec: Spec, start: dt.datetime, duration: dt.timedelta) -> dt.datetime | None:
    """The earliest instant reached, or None when it lies beyond the horizon."""
    start = start.astimezone(UTC)
    if not duration:
        return start
    remaining = duration
    cursor = start
    for span_start, span_end in open_spans(spec, local_date(start, spec) - 2 * ONE_DAY, HORIZON[1]):
        lo = max(span_start, cursor)
        if lo >= span_end:
            continue
        if span_end - lo >= remaining:
            return (lo + remaining).astimezone(UTC)
        remaining -= span_end - lo
        cursor = span_end
    return None


def ref_is_open(spec: Spec, at: dt.datetime) -> bool:
    at = at.astimezone(UTC)
    day = local_date(at, spec)
    return any(s <= at < e for s, e in open_spans(spec, day - 2 * ONE_DAY, day + 2 * ONE_DAY))


def ref_next_open(spec: Spec, at: dt.datetime) -> dt.datetime | None:
    at = at.astimezone(UTC)
    if ref_is_open(spec, at):
        return at
    for span_start, _ in open_spans(spec, local_date(at, spec) - 2 * ONE_DAY, HORIZON[1]):
        if span_start > at:
            return span_start
    return None


def assert_in_calendar_zone(result: dt.datetime, spec: Spec) -> None:
    """The result is the canonical local form, in the calendar's zone, of its instant."""
    assert str(result.tzinfo) == spec.timezone
    canonical = result.astimezone(UTC).astimezone(spec.zone)
    assert (result.replace(tzinfo=None), result.fold) == (
        canonical.replace(tzinfo=None),
        canonical.fold,
    )


def assert_same_instant(result: dt.datetime, expected: dt.datetime) -> None:
    # compared in UTC: Python never finds an ambiguous local time equal to another zone's
    assert result.astimezone(UTC) == expected.astimezone(UTC)


# -- properties -------------------------------------------------------------------------


@st.composite
def calendar_and_instants(draw: st.DrawFn, count: int) -> tuple[Spec, list[dt.datetime]]:
    spec = draw(SPECS)
    return spec, [draw(instants(spec)) for _ in range(count)]


@given(calendar_and_instants(2))
def test_between_matches_the_reference(case: tuple[Spec, list[dt.datetime]]) -> None:
    spec, (start, end) = case
    calendar = calendar_of(spec)
    if not (in_horizon(spec, start) and in_horizon(spec, end)):
        with pytest.raises(HorizonError):
            calendar.between(start, end)
        return
    assert calendar.between(start, end) == ref_between(spec, start, end)


@given(calendar_and_instants(1), DURATIONS)
def test_add_matches_the_reference(
    case: tuple[Spec, list[dt.datetime]], duration: dt.timedelta
) -> None:
    spec, (start,) = case
    calendar = calendar_of(spec)
    if duration and not in_horizon(spec, start):
        with pytest.raises(HorizonError):
            calendar.add(start, duration)
        return
    expected = ref_add(spec, start, duration)
    if expected is None:
        with pytest.raises(HorizonError):
            calendar.add(start, duration)
        return
    result = calendar.add(start, duration)
    assert_same_instant(result, expected)
    assert_in_calendar_zone(result, spec)


@given(calendar_and_instants(1), DURATIONS)
def test_add_is_the_earliest_instant_with_that_business_time(
    case: tuple[Spec, list[dt.datetime]], duration: dt.timedelta
) -> None:
    spec, (start,) = case
    calendar = calendar_of(spec)
    assume(in_horizon(spec, start))
    try:
        result = calendar.add(start, duration)
    except HorizonError:
        reject()
    assert calendar.between(start, result) == duration
    if duration:
        just_before = result.astimezone(UTC) - US
        assert just_before >= start
        assert calendar.between(start, just_before) < duration


@given(calendar_and_instants(3))
def test_between_is_additive(case: tuple[Spec, list[dt.datetime]]) -> None:
    spec, (a, b, c) = case
    assume(all(in_horizon(spec, x) for x in (a, b, c)))
    calendar = calendar_of(spec)
    assert calendar.between(a, b) + calendar.between(b, c) == calendar.between(a, c)


@given(calendar_and_instants(2))
def test_between_is_antisymmetric_and_sign_follows_order(
    case: tuple[Spec, list[dt.datetime]],
) -> None:
    spec, (a, b) = case
    assume(in_horizon(spec, a) and in_horizon(spec, b))
    calendar = calendar_of(spec)
    forward = calendar.between(a, b)
    elapsed = b.astimezone(UTC) - a.astimezone(UTC)
    assert calendar.between(b, a) == -forward
    assert calendar.between(a, a) == dt.timedelta(0)
    # business time never exceeds elapsed time, and has its sign
    if elapsed >= dt.timedelta(0):
        assert dt.timedelta(0) <= forward <= elapsed
    else:
        assert elapsed <= forward <= dt.timedelta(0)


@given(calendar_and_instants(1))
def test_is_open_and_next_open_match_the_reference(case: tuple[Spec, list[dt.datetime]]) -> None:
    spec, (at,) = case
    calendar = calendar_of(spec)
    if not in_horizon(spec, at):
        with pytest.raises(HorizonError):
            calendar.is_open(at)
        with pytest.raises(HorizonError):
            calendar.next_open(at)
        return
    is_open = calendar.is_open(at)
    assert is_open == ref_is_open(spec, at)
    expected = ref_next_open(spec, at)
    if expected is None:
        with pytest.raises(HorizonError):
            calendar.next_open(at)
        return
    opening = calendar.next_open(at)
    assert_same_instant(opening, expected)
    assert_in_calendar_zone(opening, spec)
    assert calendar.is_open(opening)
    # nothing open in between, and no business time elapses until then
    assert calendar.between(at, opening) == dt.timedelta(0)
    if not is_open:
        assert not calendar.is_open(opening.astimezone(UTC) - US)


@given(
    calendar_and_instants(2),
    DURATIONS,
    st.sampled_from(INPUT_ZONES),
    st.sampled_from(INPUT_ZONES),
)
def test_the_zone_of_the_inputs_does_not_matter(
    case: tuple[Spec, list[dt.datetime]],
    duration: dt.timedelta,
    zone_a: dt.tzinfo,
    zone_b: dt.tzinfo,
) -> None:
    spec, (start, end) = case
    assume(in_horizon(spec, start) and in_horizon(spec, end))
    calendar = calendar_of(spec)
    start_a, start_b = start.astimezone(zone_a), start.astimezone(zone_b)
    assert calendar.between(start_a, end) == calendar.between(start_b, end.astimezone(zone_a))
    assert calendar.is_open(start_a) == calendar.is_open(start_b)
    try:
        result = calendar.add(start_a, duration)
    except HorizonError:
        with pytest.raises(HorizonError):
            calendar.add(start_b, duration)
        return
    other = calendar.add(start_b, duration)
    assert (result.replace(tzinfo=None), result.fold, result.utcoffset()) == (
        other.replace(tzinfo=None),
        other.fold,
        other.utcoffset(),
    )
    assert_in_calendar_zone(result, spec)


@given(calendar_and_instants(2), DURATIONS)
def test_add_is_monotonic_in_start_and_duration(
    case: tuple[Spec, list[dt.datetime]], duration: dt.timedelta
) -> None:
    spec, (a, b) = case
    assume(in_horizon(spec, a) and in_horizon(spec, b))
    calendar = calendar_of(spec)
    early, late = sorted((a, b), key=lambda x: x.astimezone(UTC))
    try:
        later_start = calendar.add(late, duration).astimezone(UTC)
        longer = calendar.add(early, duration + US).astimezone(UTC)
    except HorizonError:
        reject()
    result = calendar.add(early, duration).astimezone(UTC)
    assert result <= later_start
    assert result < longer


@given(calendar_and_instants(1))
def test_integer_core_position_and_locate_are_inverse(case: tuple[Spec, list[dt.datetime]]) -> None:
    spec, (at,) = case
    assume(in_horizon(spec, at))
    calendar = calendar_of(spec)
    micros = (at - dt.datetime(1970, 1, 1, tzinfo=UTC)) // US
    position = calendar.position_us(micros)
    assert position >= 0
    located = calendar.locate_us(position)
    # the earliest instant with the same position: no later than at, and at itself
    # inside an open interval (at an opening, the previous closing comes first)
    assert located <= micros
    assert calendar.position_us(located) == position
    if position:
        assert calendar.position_us(located - 1) == position - 1
        if calendar.is_open_us(micros) and calendar.is_open_us(micros - 1):
            assert located == micros


#: Mostly inside or just around the 02:00-03:00 (02:00-02:30 at Lord Howe) gap.
NIGHT_MINUTES = st.one_of(
    st.sampled_from([0, 60, 120, 130, 140, 150, 160, 170, 180, 190, 240]),
    st.integers(100, 200),
)


@st.composite
def dst_nights(draw: st.DrawFn) -> tuple[Spec, dt.datetime, dt.datetime, dt.timedelta]:
    """Sunday-only calendars whose hours crowd the DST change, and instants that night."""
    night = open_pieces(
        draw, sorted(draw(st.lists(NIGHT_MINUTES, min_size=2, max_size=8, unique=True)))
    )
    assume(night)
    timezone = draw(st.sampled_from(["Europe/Paris", "America/New_York", "Australia/Lord_Howe"]))
    spec = Spec(timezone, ((),) * 6 + (night,), frozenset())
    day = draw(st.sampled_from([d for d in DST_DAYS if d.weekday() == 6]))
    midnight = utc_at(day, 0, spec.zone, 0)
    seconds = st.integers(-3_600, 7 * 3_600).map(lambda s: s * dt.timedelta(seconds=1))
    start, end = midnight + draw(seconds), midnight + draw(seconds)
    duration = draw(st.integers(0, 5 * 3_600)) * dt.timedelta(seconds=1)
    return spec, start, end, duration


@settings(max_examples=3 * settings().max_examples)  # cheap examples, rare failures
@given(dst_nights())
def test_hours_crowding_a_dst_change_match_the_reference(
    case: tuple[Spec, dt.datetime, dt.datetime, dt.timedelta],
) -> None:
    spec, start, end, duration = case
    calendar = calendar_of(spec)
    assert calendar.between(start, end) == ref_between(spec, start, end)
    assert calendar.is_open(start) == ref_is_open(spec, start)
    expected = ref_add(spec, start, duration)
    if expected is None:  # a few minutes a week may not add up to the duration in time
        with pytest.raises(HorizonError):
            calendar.add(start, duration)
    else:
        assert_same_instant(calendar.add(start, duration), expected)


# -- the memo of the index's searches ------------------------------------------------


def memo_position(memo: SpanMemo, at: int) -> int:
    """A position through the memo, written as its callers inline it."""
    start, end, before, after = memo.instants.get(at // MEMO_BUCKET_US) or memo.instant_span(at)
    return before if at <= start else before + at - start if at < end else after


def memo_locate(memo: SpanMemo, position: int) -> int:
    boundary, below, above = memo.positions.get(position // MEMO_BUCKET_US) or memo.position_span(
        position
    )
    return position + (below if position <= boundary else above)


@given(
    calendar_and_instants(6),
    st.lists(st.integers(-2 * HOUR_US, 2 * HOUR_US), min_size=1, max_size=4),
)
def test_the_memo_finds_what_the_index_finds(
    case: tuple[Spec, list[dt.datetime]], nudges: list[int]
) -> None:
    spec, ats = case
    calendar = calendar_of(spec)
    index = calendar.index()
    memo = SpanMemo(index)
    epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
    # each instant and its neighbours, twice: the second time from the memo
    micros = [(at - epoch) // US + nudge for at in ats for nudge in [0, *nudges]]
    micros = [at for at in micros if index.lo <= at <= index.hi] * 2
    for at in micros:
        position = calendar.position_us(at)
        assert memo_position(memo, at) == position
        for near in (position - 1, position, position + 1, position + HOUR_US):
            if near <= 0:
                continue
            try:
                expected = calendar.locate_us(near)
            except HorizonError:
                with pytest.raises(HorizonError):
                    memo_locate(memo, near)
            else:
                assert memo_locate(memo, near) == expected


@pytest.mark.parametrize("timezone", ["UTC", "Asia/Kolkata", "Europe/Paris"])
def test_the_memo_on_hours_that_hold_several_intervals(timezone: str) -> None:
    """Every minute (and the microseconds around it) of a week of short
    intervals: hours where two intervals start or end, or one ends and the next
    starts, are not memoised, yet found alike."""
    pieces = [(480, 490), (500, 510), (520, 550), (600, 630), (645, 660), (1380, 1440)]
    week = _template({day: pieces for day in range(5)} | {5: [(0, 1440)]})
    spec = Spec(timezone, week, frozenset({dt.date(2026, 3, 4)}))
    calendar = calendar_of(spec)
    memo = SpanMemo(calendar.index())
    start = (dt.datetime(2026, 3, 2, tzinfo=UTC) - dt.datetime(1970, 1, 1, tzinfo=UTC)) // US
    minute = 60_000_000
    for at in range(start, start + 7 * 1440 * minute, minute):
        for near in (at - 1, at, at + 1):
            position = calendar.position_us(near)
            assert memo_position(memo, near) == position
            if position > 0:
                assert memo_locate(memo, position) == calendar.locate_us(position)
        for position in (at - start, at - start + 1):  # positions of every kind of hour
            position += calendar.position_us(start)
            assert memo_locate(memo, position) == calendar.locate_us(position)


# -- integer instants and datetimes --------------------------------------------------

#: datetime's own range, in microseconds since the epoch
DATETIME_RANGE_US = (
    (dt.datetime(1, 1, 2, tzinfo=UTC) - dt.datetime(1970, 1, 1, tzinfo=UTC)) // US,
    (dt.datetime(9999, 12, 30, tzinfo=UTC) - dt.datetime(1970, 1, 1, tzinfo=UTC)) // US,
)


@given(
    st.one_of(
        st.integers(*DATETIME_RANGE_US),
        # around 2**32 s (2106), where from_us stops taking a float shortcut, and
        # beyond 2**33 s (2242), where a float would no longer be exact
        st.integers(2**32 * 10**6 - 10**13, 2**32 * 10**6 + 10**13),
        st.integers(-(2**32) * 10**6 - 10**13, -(2**32) * 10**6 + 10**13),
        st.integers(2**33 * 10**6, 2**35 * 10**6),
    ),
    st.sampled_from(INPUT_ZONES),
)
def test_from_us_and_to_us_are_exact_inverses(micros: int, zone: dt.tzinfo) -> None:
    expected = dt.datetime(1970, 1, 1, tzinfo=UTC) + micros * US
    found = from_us(micros, zone)
    assert found == expected
    assert found.tzinfo is zone
    assert found.utcoffset() == expected.astimezone(zone).utcoffset()
    assert to_us(found) == micros
