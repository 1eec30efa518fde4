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

The events replayed are in :mod:`sla.events`; :mod:`sla.queue` evaluates many
tickets at once, in columns.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, NamedTuple

from i18n import N_, gettext
from sla.calendar import BusinessCalendar, duration_to_us, from_us, to_us
from sla.events import (
    Created,
    Event,
    PriorityChanged,
    Responded,
    SeverityChanged,
    Status,
    StatusChanged,
)
from sla.policy import Priority, Severity, SlaPolicy

# crossing, evaluate_us, in_order and running_change_us are the parts of one
# ticket's evaluation that sla.queue's fused loop shares
__all__ = [
    "ClockKind",
    "ClockState",
    "ClockStatus",
    "HistoryError",
    "TicketSla",
    "TimelineEntry",
    "TimelineKind",
    "crossing",
    "evaluate",
    "evaluate_us",
    "in_order",
    "running_change_us",
]

_MINUTE_US: Final = 60_000_000


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
        return crossing(self.segments, self.target_us, self.calendar.locate_us)

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
        return running_change_us(
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


def running_change_us(
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


def crossing(
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
    return evaluate_us(history, policy, calendar, to_us(now), None)


def in_order(history: Sequence[Event]) -> bool:
    return all(a.at_us <= b.at_us for a, b in itertools.pairwise(history))


def _sorted(history: Sequence[Event]) -> list[Event]:
    return sorted(history, key=_instant)  # stable: same-instant order kept


def evaluate_us(  # noqa: C901 - evaluate_many's hot loop (bench_sla): split, it pays calls
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
        if not in_order(history):
            return evaluate_us(_sorted(history), policy, calendar, now_us, known_now_pos)
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
            return evaluate_us(_sorted(history), policy, calendar, now_us, known_now_pos)
        previous = at
        if at > now_us:
            if not in_order(history):
                return evaluate_us(_sorted(history), policy, calendar, now_us, known_now_pos)
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
