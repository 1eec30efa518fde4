"""Live SLA clocks: a pure function of (history, policy, calendar, now).

Nothing here is stored or ticks by itself: :func:`evaluate` replays a ticket's
event history against a policy and a business calendar and says, as of ``now``,
where each of the two clocks stands:

* the **first-response** clock starts at creation and stops at the first agent
  response (a public reply or an explicit acknowledgement).  A ticket resolved
  or closed without any response stops it too: the resolution is the answer.
* the **resolution** clock starts at creation, pauses while the ticket is
  pending (waiting on the customer), stops at resolution (or closure) and
  resumes when the ticket is reopened.

A priority or severity change keeps the business time already elapsed and swaps
the target, so a ticket raised to P1 may be breached at once.  A stopped clock
keeps the target in force when it stopped.  A clock is breached when its
elapsed business time exceeds its target (resolved exactly at the due instant is
met).  :meth:`ClockState.next_change` tells when the state or the displayed
remaining time changes next, so a UI can schedule a timer instead of polling.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import itertools
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, NamedTuple

from i18n import N_, gettext
from sla.calendar import (
    MEMO_BUCKET_US,
    BusinessCalendar,
    SpanMemo,
    duration_to_us,
    from_us,
    to_us,
)
from sla.policy import Priority, Rules, Severity, SlaPolicy

__all__ = [
    "NO_DUE",
    "ClockKind",
    "ClockState",
    "ClockStatus",
    "Created",
    "Event",
    "PriorityChanged",
    "QueueSla",
    "Responded",
    "SeverityChanged",
    "Status",
    "StatusChanged",
    "TicketSla",
    "TimelineEntry",
    "closed",
    "evaluate",
    "evaluate_many",
    "reopened",
    "resolved",
]

_MINUTE_US: Final = 60_000_000


class Status(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return gettext(_STATUS_LABELS[self])

    @property
    def is_done(self) -> bool:
        return self in (Status.RESOLVED, Status.CLOSED)


_STATUS_LABELS: Final = {
    Status.NEW: N_("New"),
    Status.OPEN: N_("Open"),
    Status.PENDING: N_("Pending"),
    Status.RESOLVED: N_("Resolved"),
    Status.CLOSED: N_("Closed"),
}


class ClockKind(StrEnum):
    RESPONSE = "response"
    RESOLUTION = "resolution"

    @property
    def label(self) -> str:
        return gettext(N_("First response") if self is ClockKind.RESPONSE else N_("Resolution"))


class ClockStatus(StrEnum):
    """What a clock is doing, most important first when several hold."""

    MET = "met"  # stopped within target
    MISSED = "missed"  # stopped after its target
    BREACHED = "breached"  # still running (or paused) and past its target
    PAUSED = "paused"  # the ticket waits on the customer
    AT_RISK = "at_risk"  # running, little time left
    OUTSIDE_HOURS = "outside_hours"  # running, but the calendar is closed now
    RUNNING = "running"

    @property
    def label(self) -> str:
        return gettext(_CLOCK_STATUS_LABELS[self])


_CLOCK_STATUS_LABELS: Final = {
    ClockStatus.MET: N_("Met"),
    ClockStatus.MISSED: N_("Missed"),
    ClockStatus.BREACHED: N_("Breached"),
    ClockStatus.PAUSED: N_("Paused"),
    ClockStatus.AT_RISK: N_("At risk"),
    ClockStatus.OUTSIDE_HOURS: N_("Outside business hours"),
    ClockStatus.RUNNING: N_("Running"),
}


# -- history events -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Timed:
    """An event at an aware instant; ``at_us`` is that instant as computed once."""

    at: dt.datetime
    at_us: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "at_us", to_us(self.at))  # rejects a naive datetime


@dataclass(frozen=True, slots=True)
class Created(_Timed):
    priority: Priority
    severity: Severity
    plan: str


@dataclass(frozen=True, slots=True)
class StatusChanged(_Timed):
    status: Status


@dataclass(frozen=True, slots=True)
class PriorityChanged(_Timed):
    priority: Priority


@dataclass(frozen=True, slots=True)
class SeverityChanged(_Timed):
    severity: Severity


@dataclass(frozen=True, slots=True)
class Responded(_Timed):
    """An agent's public reply, or an explicit acknowledgement ("prise en compte")."""


Event = Created | StatusChanged | PriorityChanged | SeverityChanged | Responded


def resolved(at: dt.datetime) -> StatusChanged:
    return StatusChanged(at, Status.RESOLVED)


def reopened(at: dt.datetime) -> StatusChanged:
    return StatusChanged(at, Status.OPEN)


def closed(at: dt.datetime) -> StatusChanged:
    return StatusChanged(at, Status.CLOSED)


# -- clock state --------------------------------------------------------------


class TimelineKind(StrEnum):
    STARTED = "started"
    PAUSED = "paused"
    RESUMED = "resumed"
    STOPPED = "stopped"
    BREACHED = "breached"


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: dt.datetime
    clock: ClockKind
    kind: TimelineKind


class ClockState(NamedTuple):
    """One clock of one ticket as of an instant; times in business time.

    Integers (microseconds) are kept and datetimes are built on access; a named
    tuple is cheap to build, so a queue of 100,000 tickets is cheap to evaluate.
    """

    kind: ClockKind
    calendar: BusinessCalendar
    now_us: int
    #: running spans: (start, end, business position of start, of end)
    segments: Sequence[tuple[int, int, int, int]]
    elapsed_us: int
    target_us: int
    risk_us: int
    stopped_us: int | None
    paused: bool
    #: stopped/paused/resumed instants, for the timeline
    marks: Sequence[tuple[int, TimelineKind]]
    #: business position of now, or of the stop
    reference_pos: int

    # -- plain figures --------------------------------------------------------

    @property
    def target(self) -> dt.timedelta:
        return dt.timedelta(microseconds=self.target_us)

    @property
    def elapsed(self) -> dt.timedelta:
        return dt.timedelta(microseconds=self.elapsed_us)

    @property
    def remaining_us(self) -> int:
        return self.target_us - self.elapsed_us

    @property
    def remaining(self) -> dt.timedelta:
        """Business time left; negative once breached (or missed)."""
        return dt.timedelta(microseconds=self.target_us - self.elapsed_us)

    @property
    def running(self) -> bool:
        return self.stopped_us is None and not self.paused

    @property
    def stopped(self) -> bool:
        return self.stopped_us is not None

    @property
    def stopped_at(self) -> dt.datetime | None:
        return None if self.stopped_us is None else from_us(self.stopped_us, self.calendar.zone)

    @property
    def at_risk(self) -> bool:
        """Running or paused, not yet breached, and within the warning threshold."""
        remaining = self.target_us - self.elapsed_us
        return self.stopped_us is None and 0 <= remaining <= self.risk_us

    @property
    def calendar_open(self) -> bool:
        return self.calendar.is_open_us(self.now_us)

    @property
    def state(self) -> ClockStatus:
        return self.state_given(None)

    def state_given(self, calendar_open: bool | None) -> ClockStatus:
        """:attr:`state`, told whether the calendar is open now (None: find out);
        a queue asks the calendar once for all its tickets."""
        remaining = self.target_us - self.elapsed_us
        if self.stopped_us is not None:
            return ClockStatus.MET if remaining >= 0 else ClockStatus.MISSED
        if remaining < 0:
            return ClockStatus.BREACHED
        if self.paused:
            return ClockStatus.PAUSED
        if remaining <= self.risk_us:
            return ClockStatus.AT_RISK
        if calendar_open is None:
            calendar_open = self.calendar.is_open_us(self.now_us)
        return ClockStatus.RUNNING if calendar_open else ClockStatus.OUTSIDE_HOURS

    @property
    def resumes_at(self) -> dt.datetime | None:
        """When a running clock starts counting again, while the calendar is closed."""
        if not self.running or self.calendar.is_open_us(self.now_us):
            return None
        return from_us(self.calendar.next_open_us(self.now_us), self.calendar.zone)

    # -- instants -------------------------------------------------------------

    def _crossing_us(self) -> int:
        """The first instant at which the elapsed time reached the target."""
        return _crossing(self.segments, self.target_us, self.calendar.locate_us)

    @property
    def due_us(self) -> int | None:
        if self.paused and self.stopped_us is None:
            return None
        remaining = self.target_us - self.elapsed_us
        if remaining <= 0:
            return self._crossing_us()
        return self.calendar.locate_us(self.reference_pos + remaining)

    @property
    def due(self) -> dt.datetime | None:
        """When the target is (or was) reached; ``None`` while paused.

        For a stopped clock within target, the instant it would have been due.
        """
        due = self.due_us
        return None if due is None else from_us(due, self.calendar.zone)

    def next_change_us(self, now_us: int, granularity_us: int | None = _MINUTE_US) -> int | None:
        """:meth:`next_change` in microseconds; ``granularity_us`` None: the next
        change of state only (or of opening hours), whatever the time shown."""
        if self.stopped_us is not None or self.paused:
            return None
        calendar = self.calendar
        if not calendar.is_open_us(now_us):
            return calendar.next_open_us(now_us)
        remaining = self.target_us - self.elapsed_us - calendar.between_us(self.now_us, now_us)
        return _running_change_us(
            remaining, self.risk_us, now_us, calendar.next_close_us(now_us), granularity_us
        )

    def next_change(
        self, now: dt.datetime, granularity: dt.timedelta = dt.timedelta(minutes=1)
    ) -> dt.datetime | None:
        """The next instant after ``now`` when the state or the displayed time changes.

        The displayed time is the remaining time rounded up to ``granularity``
        (a countdown shows "1 min" until it reaches zero).  ``None`` when the
        clock is stopped or paused: only a new event changes it then.
        """
        found = self.next_change_us(to_us(now), duration_to_us(granularity))
        return None if found is None else from_us(found, self.calendar.zone)

    def advanced_us(self, now_us: int, now_pos: int) -> ClockState:
        """This clock at a later instant ``now_us`` (business position ``now_pos``),
        no event having happened in between; see :meth:`TicketSla.advanced_us`."""
        if self.stopped_us is not None:
            return self._replace(now_us=now_us)
        if self.paused:
            return self._replace(now_us=now_us, reference_pos=now_pos)
        segments = self.segments
        start, _end, start_pos, end_pos = segments[-1]
        last = (start, now_us, start_pos, now_pos)
        spans = [*segments[:-1], last] if isinstance(segments, list) else (*segments[:-1], last)
        return self._replace(
            now_us=now_us,
            segments=spans,
            elapsed_us=self.elapsed_us + now_pos - end_pos,
            reference_pos=now_pos,
        )

    def timeline(self) -> list[TimelineEntry]:
        """Started, paused, resumed, stopped and breached instants, in order."""
        zone = self.calendar.zone
        entries = [
            TimelineEntry(from_us(self.segments[0][0], zone), self.kind, TimelineKind.STARTED)
        ]
        entries.extend(TimelineEntry(from_us(at, zone), self.kind, kind) for at, kind in self.marks)
        if self.target_us - self.elapsed_us < 0:
            crossing = TimelineEntry(
                from_us(self._crossing_us(), zone), self.kind, TimelineKind.BREACHED
            )
            entries.append(crossing)
            entries.sort(key=lambda entry: entry.at)
        return entries

    def __repr__(self) -> str:
        return (
            f"<ClockState {self.kind.value} {self.state.value} "
            f"elapsed={self.elapsed} target={self.target}>"
        )


def _running_change_us(
    remaining: int, risk: int, now_us: int, close_us: int, granularity_us: int | None
) -> int:
    """When a clock running at ``now_us`` (the calendar open until ``close_us``), with
    ``remaining`` business time left, next changes state or, to the granularity
    (None: never), displayed time."""
    found = close_us - now_us
    if granularity_us is not None:
        step = remaining % granularity_us or granularity_us
        if step < found:
            found = step
    if risk < remaining < found + risk:  # turns "at risk"
        found = remaining - risk
    if 0 <= remaining < found - 1:  # breaches
        found = remaining + 1
    return now_us + found


def _crossing(
    segments: Sequence[tuple[int, int, int, int]], target: int, locate_us: Callable[[int], int]
) -> int:
    """The first instant at which running ``segments`` add up to ``target``."""
    done = 0
    for start, _end, start_position, end_position in segments:
        span = end_position - start_position
        if done + span >= target:
            if target - done == 0:
                return start
            return max(start, locate_us(start_position + target - done))
        done += span
    return segments[-1][1]  # pragma: no cover - remaining <= 0 guarantees a crossing


class TicketSla(NamedTuple):
    """Both clocks of a ticket, and what the ticket was as of ``now``.

    A named tuple: immutable, and cheap to build for a queue of 100,000 tickets.
    """

    response: ClockState
    resolution: ClockState
    status: Status
    priority: Priority
    severity: Severity
    plan: str
    #: the instant of the history's first event after ``now`` (None: none), which
    #: the evaluation ignored; :meth:`advanced_us` cannot move past it
    next_event_us: int | None = None

    @property
    def now_us(self) -> int:
        return self.response.now_us

    def advanced_us(self, now_us: int) -> TicketSla | None:
        """The same ticket at a later instant, without replaying its history: what
        :func:`evaluate` of the same history returns at ``now_us``.

        A console shows the clocks of the tickets on screen every second; moving
        an evaluation forward costs a fraction of replaying each history.  None
        when that is not so: ``now_us`` is before this evaluation's instant, or
        an event of the history happens by then (evaluate the history again).
        Raises :class:`~sla.calendar.CalendarError` beyond the calendar's horizon.
        """
        then = self.response.now_us
        if now_us == then:
            return self
        following = self.next_event_us
        if now_us < then or (following is not None and following <= now_us):
            return None
        now_pos = self.response.calendar.position_us(now_us)
        return self._replace(
            response=self.response.advanced_us(now_us, now_pos),
            resolution=self.resolution.advanced_us(now_us, now_pos),
        )

    def next_change(
        self, now: dt.datetime, granularity: dt.timedelta = dt.timedelta(minutes=1)
    ) -> dt.datetime | None:
        found = self.next_change_us(to_us(now), duration_to_us(granularity))
        return None if found is None else from_us(found, self.response.calendar.zone)

    def next_change_us(self, now_us: int, granularity_us: int | None = _MINUTE_US) -> int | None:
        first = self.response.next_change_us(now_us, granularity_us)
        second = self.resolution.next_change_us(now_us, granularity_us)
        if first is None:
            return second
        return first if second is None else min(first, second)

    def timeline(self) -> list[TimelineEntry]:
        return sorted([*self.response.timeline(), *self.resolution.timeline()], key=lambda e: e.at)


def _instant(event: Event) -> int:
    return event.at_us


class HistoryError(ValueError):
    """A ticket history that cannot be replayed."""


def evaluate(
    history: Sequence[Event],
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    now: dt.datetime,
) -> TicketSla:
    """Both SLA clocks of a ticket as of ``now``.

    ``history``'s earliest event is its :class:`Created`; events after ``now``
    are ignored (they have not happened yet at that instant).  Out-of-order
    events (newest first, say) are sorted by instant, keeping the order of
    events at the same instant.
    """
    return _evaluate(history, policy, calendar, to_us(now), None)


def evaluate_many(
    histories: Iterable[Sequence[Event]],
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    now: dt.datetime,
) -> list[TicketSla]:
    """:func:`evaluate` for many tickets at one instant (shares the work on ``now``)."""
    now_us = to_us(now)
    now_pos = calendar.position_us(now_us)
    with _collector_paused():
        return [_evaluate(history, policy, calendar, now_us, now_pos) for history in histories]


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a queue is evaluated.

    The evaluation makes no reference cycles, only short-lived lists and tuples,
    yet they trigger collections that walk every ticket's history: measured, a
    third of the time of 100,000 tickets.  Reference counting still frees all.
    """
    if not gc.isenabled():  # paused already (by another queue, say)
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


#: ``QueueSla`` due arrays hold this where a clock has no due instant (paused).
NO_DUE: Final = -(2**63)
_STATUS_CODES: Final = {status: code for code, status in enumerate(ClockStatus)}
_STATUSES: Final = tuple(ClockStatus)
_PRIORITY_CODES: Final = {priority: code for code, priority in enumerate(Priority)}


class QueueSla:
    """The SLA state of a whole queue at one instant, in columns.

    For each clock: the state (its index in :class:`ClockStatus`), the remaining
    business time, the due instant (microseconds since the epoch; :data:`NO_DUE`
    while paused) and the policy's at-risk threshold for its target (the
    remaining business time at or below which a running clock is at risk, as
    :attr:`ClockState.risk_us`); for each ticket, its priority as of now (its
    index in :class:`~sla.policy.Priority`) and the next instant its clocks
    change (:meth:`TicketSla.next_change_us` to ``granularity``; -1: none).  One
    array entry a ticket and no Python object a ticket, so a queue of 100,000
    tickets sorts and filters on them cheaply.  :meth:`ticket` gives the full
    :class:`TicketSla` of one row (for the rows on screen).
    """

    __slots__ = (
        "_calendar",
        "_histories",
        "_now_pos",
        "_policy",
        "next_change_us",
        "now_us",
        "priority",
        "resolution_due_us",
        "resolution_remaining_us",
        "resolution_risk_us",
        "resolution_state",
        "response_due_us",
        "response_remaining_us",
        "response_risk_us",
        "response_state",
    )

    def __init__(
        self,
        histories: Sequence[Sequence[Event]],
        policy: SlaPolicy,
        calendar: BusinessCalendar,
        now: dt.datetime,
        granularity: dt.timedelta | None = dt.timedelta(minutes=1),
    ) -> None:
        """``granularity``: of the next change of the time shown (None: of state only)."""
        self._histories = histories
        self._policy = policy
        self._calendar = calendar
        self.now_us = now_us = to_us(now)
        self._now_pos = now_pos = calendar.position_us(now_us)
        with _collector_paused():
            (
                self.response_state,
                self.resolution_state,
                self.response_remaining_us,
                self.resolution_remaining_us,
                self.response_due_us,
                self.resolution_due_us,
                self.priority,
                self.next_change_us,
                self.response_risk_us,
                self.resolution_risk_us,
            ) = _queue_columns(
                histories,
                policy,
                calendar,
                now_us,
                now_pos,
                None if granularity is None else duration_to_us(granularity),
            )

    def __len__(self) -> int:
        return len(self.response_state)

    def state(self, row: int, kind: ClockKind) -> ClockStatus:
        codes = self.response_state if kind is ClockKind.RESPONSE else self.resolution_state
        return _STATUSES[codes[row]]

    def ticket(self, row: int) -> TicketSla:
        """Both clocks of one row, in full."""
        return _evaluate(
            self._histories[row], self._policy, self._calendar, self.now_us, self._now_pos
        )


_Columns = tuple[
    bytearray,
    bytearray,
    "array[int]",
    "array[int]",
    "array[int]",
    "array[int]",
    bytearray,
    "array[int]",
    "array[int]",
    "array[int]",
]


def _queue_columns(  # noqa: C901 - fused for speed (bench_sla): split, it pays calls per ticket
    histories: Iterable[Sequence[Event]],
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    now_us: int,
    now_pos: int,
    granularity_us: int | None,
) -> _Columns:
    """The columns of :class:`QueueSla`: :func:`_evaluate`, then
    :meth:`ClockState.state_given` and :attr:`ClockState.due_us` of both clocks,
    fused into one loop on integers that builds no object a ticket.

    A history off the common path (empty, out of order, created after ``now``
    or before the calendar's horizon, created twice) goes through
    :func:`_evaluate` itself, so it is sorted, or raises, exactly as there.
    """
    columns: _Columns = (
        bytearray(),
        bytearray(),
        array("q"),
        array("q"),
        array("q"),
        array("q"),
        bytearray(),
        array("q"),
        array("q"),
        array("q"),
    )
    add_response_state = columns[0].append
    add_resolution_state = columns[1].append
    add_response_remaining = columns[2].append
    add_resolution_remaining = columns[3].append
    add_response_due = columns[4].append
    add_resolution_due = columns[5].append
    add_priority = columns[6].append
    add_change = columns[7].append
    add_response_risk = columns[8].append
    add_resolution_risk = columns[9].append

    # the index's two searches, memoised by the hour and inlined (see SpanMemo):
    # every instant looked up lies between a creation and now, both in the horizon
    index = calendar.index()
    lo = index.lo
    memo = SpanMemo(index)
    instant_spans = memo.instants.get
    instant_span = memo.instant_span
    position_spans = memo.positions.get
    position_span = memo.position_span
    bucket = MEMO_BUCKET_US
    locate_us = calendar.locate_us
    codes = _STATUS_CODES
    met = codes[ClockStatus.MET]
    missed = codes[ClockStatus.MISSED]
    breached = codes[ClockStatus.BREACHED]
    paused = codes[ClockStatus.PAUSED]
    at_risk = codes[ClockStatus.AT_RISK]
    now_open = calendar.is_open_us(now_us)
    idle = codes[ClockStatus.RUNNING if now_open else ClockStatus.OUTSIDE_HOURS]
    # a running clock next changes when the calendar opens, or by _running_change_us
    close_us = calendar.next_close_us(now_us) if now_open else -1
    open_us = -1 if now_open else calendar.next_open_us(now_us)
    priority_codes = _PRIORITY_CODES
    resolved_status, closed_status, pending_status = Status.RESOLVED, Status.CLOSED, Status.PENDING
    rules_of = policy.rules
    rules_cache: dict[tuple[str, Priority, Severity], Rules] = {}

    for history in histories:
        created = history[0] if history else None
        if type(created) is not Created or not lo <= created.at_us <= now_us:
            _append_columns(
                _evaluate(history, policy, calendar, now_us, now_pos),
                now_open,
                granularity_us,
                columns,
            )
            continue
        at = created_us = created.at_us
        start, end, before, after = instant_spans(at // bucket) or instant_span(at)
        created_pos = before if at <= start else before + at - start if at < end else after
        priority = created.priority
        severity = created.severity
        # first-response clock: stopped at a position (-1: running), target then
        response_stop_pos = -1
        response_priority, response_severity = priority, severity
        # resolution clock: running since an instant and position (-1: not running),
        # the spans it ran, the position it stopped at (-1: not stopped), target then
        since = created_us
        since_pos = created_pos
        segments: list[tuple[int, int, int, int]] = []
        elapsed = 0
        stop_pos = -1
        stop_priority, stop_severity = priority, severity

        plain = True
        previous = created_us
        events = iter(history)
        next(events)  # the creation
        for event in events:
            at = event.at_us
            if at < previous:
                plain = False
                break
            previous = at
            if at > now_us:
                plain = _in_order(history)
                break
            kind = type(event)  # final classes: identity is isinstance, faster
            if kind is StatusChanged:
                new = event.status  # type: ignore[union-attr]  # `kind is` does not narrow
                if new is resolved_status or new is closed_status:
                    if response_stop_pos < 0 or stop_pos < 0:
                        start, end, before, after = instant_spans(at // bucket) or instant_span(at)
                        pos = before if at <= start else before + at - start if at < end else after
                        if response_stop_pos < 0:
                            response_stop_pos = pos
                            response_priority, response_severity = priority, severity
                        if stop_pos < 0:
                            if since_pos >= 0:
                                segments.append((since, at, since_pos, pos))
                                elapsed += pos - since_pos
                                since_pos = -1
                            stop_pos = pos
                            stop_priority, stop_severity = priority, severity
                elif new is pending_status:
                    if since_pos >= 0:
                        start, end, before, after = instant_spans(at // bucket) or instant_span(at)
                        pos = before if at <= start else before + at - start if at < end else after
                        segments.append((since, at, since_pos, pos))
                        elapsed += pos - since_pos
                        since_pos = -1
                    stop_pos = -1
                elif since_pos < 0:  # new/open: resume from pending or reopen
                    start, end, before, after = instant_spans(at // bucket) or instant_span(at)
                    since = at
                    since_pos = (
                        before if at <= start else before + at - start if at < end else after
                    )
                    stop_pos = -1
            elif kind is Responded:
                if response_stop_pos < 0:
                    start, end, before, after = instant_spans(at // bucket) or instant_span(at)
                    response_stop_pos = (
                        before if at <= start else before + at - start if at < end else after
                    )
                    response_priority, response_severity = priority, severity
            elif kind is PriorityChanged:
                priority = event.priority  # type: ignore[union-attr]  # `kind is` does not narrow
            elif kind is SeverityChanged:
                severity = event.severity  # type: ignore[union-attr]  # `kind is` does not narrow
            elif kind is Created:
                plain = False  # created twice: _evaluate raises
                break
        if not plain:
            _append_columns(
                _evaluate(history, policy, calendar, now_us, now_pos),
                now_open,
                granularity_us,
                columns,
            )
            continue

        plan = created.plan
        # first-response clock: one span, from creation to its stop or now
        if response_stop_pos < 0:
            key = (plan, priority, severity)
            reference = now_pos
        else:
            key = (plan, response_priority, response_severity)
            reference = response_stop_pos
        rules = rules_cache.get(key)
        if rules is None:
            rules = rules_cache[key] = rules_of(*key)
        target = rules.response
        remaining = target - (reference - created_pos)
        add_response_remaining(remaining)
        add_response_risk(rules.response_risk)
        if response_stop_pos >= 0:
            add_response_state(met if remaining >= 0 else missed)
        elif remaining < 0:
            add_response_state(breached)
        elif remaining <= rules.response_risk:
            add_response_state(at_risk)
        else:
            add_response_state(idle)
        if response_stop_pos >= 0:
            change = -1
        elif now_open:
            change = _running_change_us(
                remaining, rules.response_risk, now_us, close_us, granularity_us
            )
        else:
            change = open_us
        if remaining > 0:  # due at the position reached with the time left
            pos = reference + remaining
            boundary, below, above = position_spans(pos // bucket) or position_span(pos)
            add_response_due(pos + (below if pos <= boundary else above))
        elif target == 0:
            add_response_due(created_us)
        else:  # the target was crossed in the one span
            add_response_due(max(created_us, locate_us(created_pos + target)))

        # resolution clock
        if since_pos >= 0:
            elapsed += now_pos - since_pos
        if stop_pos < 0:
            if key[1] is not priority or key[2] is not severity:
                key = (plan, priority, severity)
                rules = rules_cache.get(key)
                if rules is None:
                    rules = rules_cache[key] = rules_of(*key)
            reference = now_pos
        else:
            if key[1] is not stop_priority or key[2] is not stop_severity:
                key = (plan, stop_priority, stop_severity)
                rules = rules_cache.get(key)
                if rules is None:
                    rules = rules_cache[key] = rules_of(*key)
            reference = stop_pos
        target = rules.resolution
        remaining = target - elapsed
        add_resolution_remaining(remaining)
        add_resolution_risk(rules.resolution_risk)
        if stop_pos >= 0:
            add_resolution_state(met if remaining >= 0 else missed)
        elif remaining < 0:
            add_resolution_state(breached)
        elif since_pos < 0:
            add_resolution_state(paused)
        elif remaining <= rules.resolution_risk:
            add_resolution_state(at_risk)
        else:
            add_resolution_state(idle)
        if since_pos >= 0:  # running
            found = (
                _running_change_us(
                    remaining, rules.resolution_risk, now_us, close_us, granularity_us
                )
                if now_open
                else open_us
            )
            if change < 0 or found < change:
                change = found
        add_change(change)
        add_priority(priority_codes[priority])
        if since_pos < 0 and stop_pos < 0:
            add_resolution_due(NO_DUE)  # paused
        elif remaining > 0:
            pos = reference + remaining
            boundary, below, above = position_spans(pos // bucket) or position_span(pos)
            add_resolution_due(pos + (below if pos <= boundary else above))
        else:
            if since_pos >= 0:
                segments.append((since, now_us, since_pos, now_pos))
            add_resolution_due(_crossing(segments, target, locate_us))
    return columns


def _append_columns(
    sla: TicketSla, now_open: bool, granularity_us: int | None, columns: _Columns
) -> None:
    """One row of :class:`QueueSla`'s columns, from a ticket's evaluation."""
    response, resolution = sla.response, sla.resolution
    columns[6].append(_PRIORITY_CODES[sla.priority])
    change = sla.next_change_us(response.now_us, granularity_us)
    columns[7].append(-1 if change is None else change)
    columns[0].append(_STATUS_CODES[response.state_given(now_open)])
    columns[1].append(_STATUS_CODES[resolution.state_given(now_open)])
    columns[2].append(response.target_us - response.elapsed_us)
    columns[3].append(resolution.target_us - resolution.elapsed_us)
    due = response.due_us
    columns[4].append(NO_DUE if due is None else due)
    due = resolution.due_us
    columns[5].append(NO_DUE if due is None else due)
    columns[8].append(response.risk_us)
    columns[9].append(resolution.risk_us)


def _in_order(history: Sequence[Event]) -> bool:
    return all(a.at_us <= b.at_us for a, b in itertools.pairwise(history))


def _sorted(history: Sequence[Event]) -> list[Event]:
    return sorted(history, key=_instant)  # stable: same-instant order kept


def _evaluate(  # noqa: C901 - evaluate_many's hot loop (bench_sla): split, it pays calls
    history: Sequence[Event],
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    now_us: int,
    known_now_pos: int | None,
) -> TicketSla:
    """:func:`evaluate` on integers; ``known_now_pos`` is ``now_us``'s business position."""
    if not history:
        raise HistoryError("a ticket history must start with its creation")
    created = history[0]
    if not isinstance(created, Created):
        if not _in_order(history):
            return _evaluate(_sorted(history), policy, calendar, now_us, known_now_pos)
        if any(isinstance(event, Created) for event in history):
            raise HistoryError("an event of this history happened before the ticket's creation")
        raise HistoryError("a ticket history must start with its creation")
    created_us = created.at_us
    if created_us > now_us:
        raise HistoryError("the ticket is created after the instant asked for")
    priority, severity, plan = created.priority, created.severity, created.plan
    status = Status.NEW
    # every instant looked up lies between the creation and now: check those two
    # against the calendar's horizon once, then use its unchecked search
    created_pos = calendar.position_us(created_us)
    if known_now_pos is None:
        known_now_pos = calendar.position_us(now_us)
    position = calendar.index().position

    # first-response clock: one segment, from creation to the first response
    response_stop: int | None = None
    response_stop_pos = 0
    response_target_at_stop: tuple[Priority, Severity] | None = None
    # resolution clock: segments (start, end, start position, end position)
    resolution_since: int | None = created_us
    resolution_since_pos = created_pos
    resolution_segments: list[tuple[int, int, int, int]] = []
    resolution_elapsed = 0
    resolution_stop: int | None = None
    resolution_stop_pos = 0
    resolution_target_at_stop: tuple[Priority, Severity] | None = None
    resolution_marks: list[tuple[int, TimelineKind]] = []

    # histories come in order (the check is folded into this loop); one that does
    # not is evaluated again, sorted
    next_event: int | None = None
    previous = created_us
    events = iter(history)
    next(events)  # the creation
    for event in events:
        at = event.at_us
        if at < previous:
            return _evaluate(_sorted(history), policy, calendar, now_us, known_now_pos)
        previous = at
        if at > now_us:
            if not _in_order(history):
                return _evaluate(_sorted(history), policy, calendar, now_us, known_now_pos)
            next_event = at
            break
        kind = type(event)  # the event classes are final: identity is isinstance, faster
        if kind is StatusChanged:
            new = event.status  # type: ignore[union-attr]  # `kind is` does not narrow
            if new is Status.RESOLVED or new is Status.CLOSED:
                at_pos = -1
                if response_stop is None:
                    at_pos = position(at)
                    response_stop = at
                    response_stop_pos = at_pos
                    response_target_at_stop = (priority, severity)
                if resolution_stop is None:
                    if at_pos < 0:
                        at_pos = position(at)
                    if resolution_since is not None:
                        resolution_segments.append(
                            (resolution_since, at, resolution_since_pos, at_pos)
                        )
                        resolution_elapsed += at_pos - resolution_since_pos
                        resolution_since = None
                    resolution_stop = at
                    resolution_stop_pos = at_pos
                    resolution_target_at_stop = (priority, severity)
                    resolution_marks.append((at, TimelineKind.STOPPED))
            elif new is Status.PENDING:
                if resolution_since is not None:
                    at_pos = position(at)
                    resolution_segments.append((resolution_since, at, resolution_since_pos, at_pos))
                    resolution_elapsed += at_pos - resolution_since_pos
                    resolution_since = None
                    resolution_marks.append((at, TimelineKind.PAUSED))
                elif resolution_stop is not None:  # from resolved back to pending
                    resolution_marks.append((at, TimelineKind.PAUSED))
                resolution_stop = None
                resolution_target_at_stop = None
            elif resolution_since is None:  # new/open: resume from pending or reopen
                resolution_since = at
                resolution_since_pos = position(at)
                resolution_stop = None
                resolution_target_at_stop = None
                resolution_marks.append((at, TimelineKind.RESUMED))
            status = new
        elif kind is Responded:
            if response_stop is None:
                response_stop = at
                response_stop_pos = position(at)
                response_target_at_stop = (priority, severity)
        elif kind is PriorityChanged:
            priority = event.priority  # type: ignore[union-attr]  # `kind is` does not narrow
        elif kind is SeverityChanged:
            severity = event.severity  # type: ignore[union-attr]  # `kind is` does not narrow
        elif kind is Created:
            raise HistoryError("a ticket history has a single creation event")

    now_pos = known_now_pos
    if response_stop is None:
        response_segments: Sequence[tuple[int, int, int, int]] = (
            (created_us, now_us, created_pos, now_pos),
        )
        response_elapsed = now_pos - created_pos
        response_reference = now_pos
    else:
        response_segments = ((created_us, response_stop, created_pos, response_stop_pos),)
        response_elapsed = response_stop_pos - created_pos
        response_reference = response_stop_pos
    if resolution_since is not None:
        resolution_segments.append((resolution_since, now_us, resolution_since_pos, now_pos))
        resolution_elapsed += now_pos - resolution_since_pos
    resolution_reference = now_pos if resolution_stop is None else resolution_stop_pos

    response_key = response_target_at_stop or (priority, severity)
    resolution_key = resolution_target_at_stop or (priority, severity)
    response_rules = policy.rules(plan, *response_key)
    resolution_rules = (
        response_rules if resolution_key == response_key else policy.rules(plan, *resolution_key)
    )
    return TicketSla(
        ClockState(
            ClockKind.RESPONSE,
            calendar,
            now_us,
            response_segments,
            response_elapsed,
            response_rules.response,
            response_rules.response_risk,
            response_stop,
            False,
            () if response_stop is None else ((response_stop, TimelineKind.STOPPED),),
            response_reference,
        ),
        ClockState(
            ClockKind.RESOLUTION,
            calendar,
            now_us,
            resolution_segments,
            resolution_elapsed,
            resolution_rules.resolution,
            resolution_rules.resolution_risk,
            resolution_stop,
            resolution_since is None and resolution_stop is None,
            resolution_marks,
            resolution_reference,
        ),
        status,
        priority,
        severity,
        plan,
        next_event,
    )
