"""Business calendars: how much working time lies between two instants.

A :class:`BusinessCalendar` is defined by wall-clock opening hours per weekday in
one time zone, plus closed days (public holidays).  Durations are *real elapsed
time* inside the opening hours: a 24/7 calendar has a 23 h day when the clocks
spring forward.

All arithmetic is done on integers (microseconds since the Unix epoch, UTC) over
a one-time index of the calendar's opening intervals inside a horizon (by default
1970 to 2100).  The index holds, for every maximal open interval, its bounds and
the business time accumulated before it, so :meth:`BusinessCalendar.between` and
:meth:`BusinessCalendar.add` are two binary searches each, whatever the duration.
Instants outside the horizon raise :class:`HorizonError` instead of answering
wrongly.
"""

from __future__ import annotations

import datetime as dt
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "MEMO_BUCKET_US",
    "MON_FRI_9_18",
    "TWENTY_FOUR_SEVEN",
    "BusinessCalendar",
    "CalendarError",
    "HorizonError",
    "SpanMemo",
    "WeeklyHours",
]

WeeklyHours = Mapping[int, Sequence[tuple[dt.time, dt.time]]]

UTC: Final = dt.UTC
EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND: Final = dt.timedelta(microseconds=1)
_MIDNIGHT: Final = dt.time(0, 0)

#: The contract's support hours: Monday to Friday, 09:00 to 18:00.
MON_FRI_9_18: Final[dict[int, list[tuple[dt.time, dt.time]]]] = {
    d: [(dt.time(9), dt.time(18))] for d in range(5)
}
#: Always open (an end of 00:00 is midnight at the end of the day).
TWENTY_FOUR_SEVEN: Final[dict[int, list[tuple[dt.time, dt.time]]]] = {
    d: [(_MIDNIGHT, _MIDNIGHT)] for d in range(7)
}

DEFAULT_HORIZON: Final = (dt.date(1970, 1, 1), dt.date(2100, 1, 1))


class CalendarError(ValueError):
    """A calendar definition or a query is invalid."""


class HorizonError(CalendarError):
    """An instant lies outside the range of dates the calendar was indexed for."""


def to_us(when: dt.datetime) -> int:
    """Microseconds since the epoch of an aware datetime (exact)."""
    try:
        return (when - EPOCH) // MICROSECOND
    except TypeError:  # naive minus aware
        if isinstance(when, dt.datetime):
            raise ValueError(
                f"naive datetime {when.isoformat()} given: business time needs an aware "
                "datetime (attach a time zone)"
            ) from None
        raise


def duration_to_us(duration: dt.timedelta) -> int:
    """Microseconds in a timedelta (exact)."""
    return duration // MICROSECOND


#: Below 2**33 s (in 2242), ``micros / 1e6`` is within 0.48 µs of the exact number
#: of seconds, so ``fromtimestamp`` (which rounds to the nearest microsecond) gives
#: back exactly ``micros``; the shortcut stops at 2**32 s (2106), with a margin.
_FLOAT_EXACT_US: Final = 2**32 * 1_000_000


def from_us(micros: int, zone: dt.tzinfo) -> dt.datetime:
    """The aware datetime, in ``zone``, of microseconds since the epoch (exact)."""
    if -_FLOAT_EXACT_US < micros < _FLOAT_EXACT_US:
        return dt.datetime.fromtimestamp(micros / 1e6, zone)  # faster, and exact here
    return (EPOCH + MICROSECOND * micros).astimezone(zone)


@dataclass(frozen=True, slots=True)
class _Index:
    starts: list[int]
    ends: list[int]
    cum_before: list[int]
    cum_after: list[int]
    lo: int
    hi: int
    #: position of an instant inside [lo, hi] (unchecked: callers check the horizon)
    position: Callable[[int], int]
    #: earliest instant of a position > 0 (HorizonError beyond the horizon)
    locate: Callable[[int], int]


#: Width of the buckets of a :class:`SpanMemo`, in instants and in positions.
MEMO_BUCKET_US: Final = 3_600_000_000


class SpanMemo:
    """The index's two searches, memoised by the hour for a batch of lookups.

    A queue of 100,000 tickets asks the position of half a million instants and
    the instant of a quarter million positions, nearly all within a few weeks:
    a dictionary lookup by hour and a little arithmetic beat a binary search of
    the whole horizon.  Callers inline the lookups (no call a lookup):

    * position of an instant ``at`` inside the horizon::

          start, end, before, after = instants.get(at // MEMO_BUCKET_US) or instant_span(at)
          pos = before if at <= start else before + at - start if at < end else after

    * earliest instant of a position ``pos > 0``::

          boundary, below, above = positions.get(pos // MEMO_BUCKET_US) or position_span(pos)
          at = pos + (below if pos <= boundary else above)

    ``position_span`` raises :class:`HorizonError` past the horizon.  An hour in
    which more than one interval starts (or ends, for positions) is never
    memoised: its lookups take the binary search.  A memo lives as long as its
    batch (it grows with the hours it is asked about).
    """

    __slots__ = ("_ambiguous", "_index", "instants", "positions")

    def __init__(self, index: _Index) -> None:
        self._index = index
        #: hour of instants -> (start, end, position before, position after)
        self.instants: dict[int, tuple[int, int, int, int]] = {}
        #: hour of positions -> (boundary, offset at or below it, offset above it)
        self.positions: dict[int, tuple[int, int, int]] = {}
        self._ambiguous: set[tuple[bool, int]] = set()

    def instant_span(self, micros: int) -> tuple[int, int, int, int]:
        """The span giving ``micros``'s position; memoised for its hour when it can be."""
        index = self._index
        starts = index.starts
        bucket = micros // MEMO_BUCKET_US
        if (False, bucket) not in self._ambiguous:
            first = bucket * MEMO_BUCKET_US
            i = bisect_right(starts, first) - 1
            j = bisect_right(starts, first + MEMO_BUCKET_US - 1) - 1
            if j == i + 1 and (i < 0 or index.ends[i] <= first):
                i = j  # interval i is over before the hour: the one starting inside rules
            if j == i:  # every position in the hour comes from interval i (or precedes all)
                span = self._span(i, first)
                self.instants[bucket] = span
                return span
            self._ambiguous.add((False, bucket))
        return self._span(bisect_right(starts, micros) - 1, micros)

    def _span(self, i: int, at_least: int) -> tuple[int, int, int, int]:
        index = self._index
        if i < 0:  # before the first opening: position 0
            return (at_least, at_least, 0, 0)
        return (index.starts[i], index.ends[i], index.cum_before[i], index.cum_after[i])

    def position_span(self, position: int) -> tuple[int, int, int]:
        """The offsets giving the earliest instant of ``position`` (> 0); memoised
        for its hour when it can be."""
        index = self._index
        cum_after = index.cum_after
        count = len(cum_after)
        bucket = position // MEMO_BUCKET_US
        if (True, bucket) not in self._ambiguous:
            first = bucket * MEMO_BUCKET_US
            i = bisect_left(cum_after, first)
            j = bisect_left(cum_after, first + MEMO_BUCKET_US - 1)
            if j < count and j <= i + 1:  # at most one interval ends inside the hour
                span = (cum_after[i], self._offset(i), self._offset(j))
                self.positions[bucket] = span
                return span
            self._ambiguous.add((True, bucket))
        i = bisect_left(cum_after, position)
        if i >= count:
            index.locate(position)  # raises the horizon error
        offset = self._offset(i)
        return (position, offset, offset)

    def _offset(self, i: int) -> int:
        return self._index.starts[i] - self._index.cum_before[i]


def _index_functions(
    starts: list[int],
    ends: list[int],
    cum_before: list[int],
    cum_after: list[int],
    beyond: str,
) -> tuple[Callable[[int], int], Callable[[int], int]]:
    """The two searches of the index, as closures over its lists: a queue of
    100,000 tickets calls them half a million times, so no attribute lookup."""
    count = len(starts)

    def position(micros: int) -> int:
        i = bisect_right(starts, micros) - 1
        if i < 0:
            return 0
        if micros >= ends[i]:
            return cum_after[i]
        return cum_before[i] + micros - starts[i]

    def locate(position: int) -> int:
        i = bisect_left(cum_after, position)
        if i >= count:
            raise HorizonError(beyond)
        return starts[i] + position - cum_before[i]

    return position, locate


def _validate_hours(weekly_hours: WeeklyHours) -> dict[int, tuple[tuple[dt.time, dt.time], ...]]:
    checked: dict[int, tuple[tuple[dt.time, dt.time], ...]] = {}
    for weekday, intervals in weekly_hours.items():
        if not isinstance(weekday, int) or not 0 <= weekday <= 6:
            raise CalendarError(
                f"weekly_hours: weekday {weekday!r} is not an integer from 0 (Monday) to 6 (Sunday)"
            )
        previous_end: dt.time | None = None
        day: list[tuple[dt.time, dt.time]] = []
        for interval in sorted(intervals, key=lambda pair: pair[0]):
            start, end = interval
            if not isinstance(start, dt.time) or not isinstance(end, dt.time):
                raise CalendarError(f"weekly_hours[{weekday}]: {interval!r} is not a pair of times")
            if start.tzinfo is not None or end.tzinfo is not None:
                raise CalendarError(
                    f"weekly_hours[{weekday}]: times are wall-clock times of the calendar's zone "
                    "and must not carry a time zone"
                )
            if end != _MIDNIGHT and end <= start:
                raise CalendarError(
                    f"weekly_hours[{weekday}]: interval {start.isoformat()}-{end.isoformat()} "
                    "ends before it starts (use 00:00 as an end for midnight)"
                )
            if previous_end is not None and (previous_end == _MIDNIGHT or start < previous_end):
                raise CalendarError(
                    f"weekly_hours[{weekday}]: interval starting {start.isoformat()} overlaps "
                    "the previous one"
                )
            day.append((start, end))
            previous_end = end
        if day:
            checked[weekday] = tuple(day)
    if not checked:
        raise CalendarError("weekly_hours: the calendar has no opening hours at all")
    return checked


class BusinessCalendar:
    """Opening hours in one time zone, with closed days.

    ``weekly_hours`` maps a weekday (0 is Monday) to a list of ``(start, end)``
    wall-clock times; an ``end`` of ``time(0, 0)`` means midnight at the end of
    that day.  ``holidays`` are local dates on which the calendar stays closed.
    """

    __slots__ = (
        "_holidays",
        "_horizon",
        "_index",
        "_lock",
        "_weekly",
        "country",
        "name",
        "subdiv",
        "timezone",
        "zone",
    )

    def __init__(
        self,
        timezone: str,
        weekly_hours: WeeklyHours,
        holidays: Iterable[dt.date] = (),
        *,
        name: str = "",
        horizon: tuple[dt.date, dt.date] = DEFAULT_HORIZON,
    ) -> None:
        try:
            self.zone: ZoneInfo = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CalendarError(f"timezone: unknown time zone {timezone!r}") from exc
        self.timezone = timezone
        self.name = name
        self.country: str | None = None
        self.subdiv: str | None = None
        self._weekly = _validate_hours(weekly_hours)
        days: set[dt.date] = set()
        for day in holidays:
            if isinstance(day, dt.datetime) or not isinstance(day, dt.date):
                raise CalendarError(f"holidays: {day!r} is not a date")
            days.add(day)
        self._holidays = frozenset(days)
        if horizon[0] >= horizon[1]:
            raise CalendarError("horizon: the first date must come before the second")
        self._horizon = horizon
        self._index: _Index | None = None
        self._lock = threading.Lock()

    # -- construction helpers -------------------------------------------------

    @classmethod
    def for_country(
        cls,
        country: str,
        subdiv: str | None = None,
        *,
        timezone: str,
        weekly_hours: WeeklyHours = MON_FRI_9_18,
        extra_holidays: Iterable[dt.date] = (),
        name: str = "",
        horizon: tuple[dt.date, dt.date] = DEFAULT_HORIZON,
    ) -> BusinessCalendar:
        """A calendar closed on the public holidays of ``country`` (and ``subdiv``).

        Holidays come from the `holidays` package, e.g. ``for_country("FR", "57",
        timezone="Europe/Paris")`` adds Good Friday and 26 December for Moselle.
        """
        import holidays as holidays_lib  # imported lazily: it is large

        years = range(horizon[0].year, horizon[1].year + 1)
        try:
            public = holidays_lib.country_holidays(country, subdiv=subdiv, years=years)
        except NotImplementedError as exc:
            known = holidays_lib.list_supported_countries().get(country)
            if known is not None and subdiv is not None:
                raise CalendarError(
                    f"subdiv: no subdivision {subdiv!r} known for country {country!r} "
                    f"(known: {', '.join(known)})"
                ) from exc
            raise CalendarError(f"country: no public holidays known for {country!r}") from exc
        except ValueError as exc:  # unknown subdivision
            raise CalendarError(f"subdiv: {exc}") from exc
        calendar = cls(
            timezone,
            weekly_hours,
            [*public.keys(), *extra_holidays],
            name=name,
            horizon=horizon,
        )
        calendar.country = country
        calendar.subdiv = subdiv
        return calendar

    # -- introspection --------------------------------------------------------

    @property
    def weekly_hours(self) -> dict[int, list[tuple[dt.time, dt.time]]]:
        return {day: list(intervals) for day, intervals in self._weekly.items()}

    @property
    def holidays(self) -> frozenset[dt.date]:
        return self._holidays

    @property
    def horizon(self) -> tuple[dt.date, dt.date]:
        return self._horizon

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"<BusinessCalendar{label} {self.timezone} {len(self._holidays)} holidays>"

    # -- the index ------------------------------------------------------------

    def _build_index(self) -> _Index:
        first, last = self._horizon
        zone = self.zone
        weekly = self._weekly
        closed = self._holidays
        one_day = dt.timedelta(days=1)
        spans: list[tuple[int, int]] = []
        day = first
        while day < last:
            intervals = weekly.get(day.weekday())
            if intervals and day not in closed:
                for open_at, close_at in intervals:
                    start = to_us(dt.datetime.combine(day, open_at, zone))
                    end_day = day + one_day if close_at == _MIDNIGHT else day
                    end = to_us(dt.datetime.combine(end_day, close_at, zone))
                    if start < end:  # else swallowed by a DST gap
                        spans.append((start, end))
            day += one_day
        # A DST gap maps wall-clock times out of order (02:30 reads as 03:30, after a
        # 03:00 opening), so spans may overlap out of order: sort, then take the union.
        spans.sort()
        starts: list[int] = []
        ends: list[int] = []
        for start, end in spans:
            if starts and start <= ends[-1]:
                ends[-1] = max(ends[-1], end)  # overlapping or contiguous: one interval
            else:
                starts.append(start)
                ends.append(end)
        return self._index_of(starts, ends)

    def _index_of(self, starts: list[int], ends: list[int]) -> _Index:
        """The index of these opening intervals (sorted, disjoint, in the horizon)."""
        first, last = self._horizon
        zone = self.zone
        if not starts:
            raise CalendarError("the calendar is never open inside its horizon")
        cum_before: list[int] = []
        cum_after: list[int] = []
        total = 0
        for start, end in zip(starts, ends, strict=True):
            cum_before.append(total)
            total += end - start
            cum_after.append(total)
        lo = to_us(dt.datetime.combine(first, _MIDNIGHT, zone))
        hi = to_us(dt.datetime.combine(last, _MIDNIGHT, zone))
        beyond = (
            "the result lies beyond this calendar's horizon "
            f"({first.isoformat()} to {last.isoformat()})"
        )
        return _Index(
            starts,
            ends,
            cum_before,
            cum_after,
            lo,
            hi,
            *_index_functions(starts, ends, cum_before, cum_after, beyond),
        )

    def opening_spans(self) -> tuple[list[int], list[int]]:
        """The index's opening intervals: their starts and ends (µs), in order.

        Building them walks every day of the horizon (a tenth of a second for the
        default one); a program that starts often may keep them, with the
        calendar's definition, and give them back with :meth:`adopt_spans`.
        """
        index = self.index()
        return list(index.starts), list(index.ends)

    def adopt_spans(self, starts: Sequence[int], ends: Sequence[int]) -> None:
        """Take the opening intervals :meth:`opening_spans` gave, for the same
        definition (the caller's to vouch for), instead of building them.

        Raises :class:`CalendarError` for intervals no calendar could have:
        unsorted, overlapping or empty, or outside the horizon.
        """
        starts, ends = [int(value) for value in starts], [int(value) for value in ends]
        if len(starts) != len(ends) or not starts:
            raise CalendarError("opening spans: starts and ends must pair up")
        previous_end = to_us(dt.datetime.combine(self._horizon[0], _MIDNIGHT, self.zone))
        for start, end in zip(starts, ends, strict=True):
            if not previous_end <= start < end:
                raise CalendarError("opening spans: unsorted, overlapping or empty intervals")
            previous_end = end
        if previous_end > to_us(dt.datetime.combine(self._horizon[1], _MIDNIGHT, self.zone)):
            raise CalendarError("opening spans: an interval ends beyond the horizon")
        with self._lock:
            self._index = self._index_of(starts, ends)

    def index(self) -> _Index:
        """Build (once) and return the index; thread-safe."""
        index = self._index
        if index is None:
            with self._lock:
                index = self._index
                if index is None:
                    index = self._index = self._build_index()
        return index

    def _check(self, index: _Index, micros: int) -> None:
        if not index.lo <= micros <= index.hi:
            raise HorizonError(
                f"{from_us(micros, self.zone).isoformat()} is outside this calendar's horizon "
                f"({self._horizon[0].isoformat()} to {self._horizon[1].isoformat()})"
            )

    # -- integer core (microseconds since the epoch) ---------------------------

    def position_us(self, micros: int) -> int:
        """Business microseconds from the start of the horizon up to ``micros``."""
        index = self._index or self.index()
        if not index.lo <= micros <= index.hi:
            self._check(index, micros)
        return index.position(micros)

    def locate_us(self, position: int) -> int:
        """The earliest instant whose :meth:`position_us` equals ``position``."""
        index = self._index or self.index()
        if position > 0:
            return index.locate(position)
        if position < 0:
            raise HorizonError("the result lies before this calendar's horizon")
        return index.lo

    def add_us(self, start: int, duration: int) -> int:
        if duration < 0:
            raise ValueError("cannot add a negative business duration")
        if duration == 0:
            return start
        # position_us and locate_us fused: one index fetch, one or two binary searches
        index = self._index or self.index()
        if not index.lo <= start <= index.hi:
            self._check(index, start)
        starts = index.starts
        cum_after = index.cum_after
        j = bisect_right(starts, start)  # the first interval after start's
        i = j - 1
        if i < 0:
            target = duration
        elif start >= index.ends[i]:
            target = cum_after[i] + duration
        else:  # open at start
            target = index.cum_before[i] + start - starts[i] + duration
            if target <= cum_after[i]:  # reached before this interval closes
                return start + duration
        # the interval where the target is reached: often the next one, else search
        if j >= len(starts) or cum_after[j] < target:
            j = bisect_left(cum_after, target)
            if j >= len(starts):
                return index.locate(target)  # raises the horizon error
        return starts[j] + target - index.cum_before[j]

    def between_us(self, start: int, end: int) -> int:
        return self.position_us(end) - self.position_us(start)

    def is_open_us(self, micros: int) -> bool:
        index = self.index()
        self._check(index, micros)
        i = bisect_right(index.starts, micros) - 1
        return i >= 0 and micros < index.ends[i]

    def next_open_us(self, micros: int) -> int:
        index = self.index()
        self._check(index, micros)
        i = bisect_right(index.starts, micros) - 1
        if i >= 0 and micros < index.ends[i]:
            return micros
        if i + 1 >= len(index.starts):
            raise HorizonError("the calendar does not open again inside its horizon")
        return index.starts[i + 1]

    def next_close_us(self, micros: int) -> int:
        """The end of the open interval containing ``micros`` (which must be open)."""
        index = self.index()
        self._check(index, micros)
        i = bisect_right(index.starts, micros) - 1
        if i < 0 or micros >= index.ends[i]:
            raise ValueError("the calendar is closed at that instant")
        return index.ends[i]

    # -- the public contract --------------------------------------------------

    def add(self, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        """The earliest instant ``t`` with ``between(start, t) == duration``."""
        micros = duration // MICROSECOND
        if micros <= 0:
            if micros < 0:
                raise ValueError(f"cannot add a negative business duration ({duration})")
            to_us(start)  # rejects a naive datetime
            return start.astimezone(self.zone)
        return from_us(self.add_us(to_us(start), micros), self.zone)

    def between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Business time from ``start`` to ``end`` (negative when ``end < start``)."""
        return dt.timedelta(microseconds=self.between_us(to_us(start), to_us(end)))

    def is_open(self, at: dt.datetime) -> bool:
        """Whether the calendar is open at ``at`` (intervals are half-open: [open, close))."""
        return self.is_open_us(to_us(at))

    def next_open(self, at: dt.datetime) -> dt.datetime:
        """``at`` itself when open, else the next opening instant."""
        return from_us(self.next_open_us(to_us(at)), self.zone)

    # -- equality (by definition, not by index) -------------------------------

    def _key(self) -> tuple[object, ...]:
        return (
            self.timezone,
            tuple(sorted(self._weekly.items())),
            self._holidays,
            self._horizon,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BusinessCalendar):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())
