"""SLA clock properties on random histories: what holds for any ticket, at any instant.

Hypothesis draws histories over four weeks of March 2026 (a change to summer
time among them) and checks the clocks against a replay by hand, against the
calendar, and against themselves at later instants.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from sla.calendar import to_us
from sla.clock import ClockKind, ClockState, TicketSla, evaluate
from sla.events import (
    Created,
    Event,
    PriorityChanged,
    Responded,
    SeverityChanged,
    StatusChanged,
)
from sla.policy import Priority, Severity, Targets
from tests.sla.drawn import drawn_creation, drawn_event
from tests.sla.reference_histories import (
    AT_RISK,
    BREACHED,
    CALENDAR,
    HOUR,
    MINUTE,
    PARIS,
    POLICY,
    SECOND,
    US,
)

BASE = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)  # a Monday; DST changes on March 29
DAY_US = 86_400_000_000


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Event], dt.datetime]:
    created_at = BASE + dt.timedelta(microseconds=draw(st.integers(0, 27 * DAY_US)))
    events: list[Event] = [drawn_creation(draw, created_at)]
    at = created_at
    for _ in range(draw(st.integers(0, 6))):
        at += dt.timedelta(microseconds=draw(st.integers(0, 2 * DAY_US)))
        kind = draw(st.sampled_from(["reply", "status", "priority", "severity"]))
        events.append(drawn_event(draw, kind, at))
    now = created_at + dt.timedelta(microseconds=draw(st.integers(0, 10 * DAY_US)))
    # a few histories get "now" pinned on a business-hours boundary
    if draw(st.booleans()):
        local = now.astimezone(PARIS)
        pinned = local.replace(
            hour=draw(st.sampled_from([9, 18])), minute=0, second=0, microsecond=0
        )
        now = max(pinned, created_at)
    return events, now


def until(history: list[Event], now: dt.datetime) -> list[Event]:
    return [event for event in history if event.at <= now]


def first_response(history: list[Event], now: dt.datetime) -> tuple[dt.datetime | None, Targets]:
    """Replay by hand: the first reply/resolution/closure up to ``now``, and the
    response target in force then (events apply in history order)."""
    created = history[0]
    assert isinstance(created, Created)
    priority, severity = created.priority, created.severity
    stop: dt.datetime | None = None
    for event in history[1:]:
        if event.at > now:
            break
        if isinstance(event, Responded) or (
            isinstance(event, StatusChanged) and event.status.is_done
        ):
            stop = event.at
            break
        if isinstance(event, PriorityChanged):
            priority = event.priority
        elif isinstance(event, SeverityChanged):
            severity = event.severity
    return stop, POLICY.targets_for(created.plan, priority, severity)


@given(histories())
def test_response_clock_counts_business_time_until_it_stops(
    case: tuple[list[Event], dt.datetime],
) -> None:
    history, now = case
    clock = evaluate(history, POLICY, CALENDAR, now).response
    stop, targets = first_response(history, now)
    assert clock.stopped_at == stop
    assert clock.elapsed == CALENDAR.between(history[0].at, stop or now)
    target = targets.response
    assert clock.target == target
    assert clock.elapsed + clock.remaining == target


@given(histories())
def test_a_running_clock_reaches_zero_at_due_and_breaches_just_after(
    case: tuple[list[Event], dt.datetime],
) -> None:
    history, now = case
    past = until(history, now)
    sla = evaluate(past, POLICY, CALENDAR, now)
    for kind in (ClockKind.RESPONSE, ClockKind.RESOLUTION):
        clock = sla.response if kind is ClockKind.RESPONSE else sla.resolution
        if not clock.running or clock.remaining <= dt.timedelta(0):
            continue
        due = clock.due
        assert due is not None
        assert due > now
        assert CALENDAR.between(now, due) == clock.remaining
        at_due = evaluate(past, POLICY, CALENDAR, due)
        then = at_due.response if kind is ClockKind.RESPONSE else at_due.resolution
        assert then.remaining == dt.timedelta(0)
        assert then.state is AT_RISK
        after = evaluate(past, POLICY, CALENDAR, due + US)
        later = after.response if kind is ClockKind.RESPONSE else after.resolution
        if CALENDAR.is_open(due):
            assert later.state is BREACHED
        else:  # due at closing time: nothing more counts until the next opening
            assert later.state is AT_RISK


def display(sla: TicketSla, granularity_us: int) -> tuple[object, ...]:
    def one(clock: ClockState) -> tuple[object, ...]:
        # the remaining time as a countdown shows it: rounded up to the granularity
        return (clock.state, -(-clock.remaining_us // granularity_us))

    return (*one(sla.response), *one(sla.resolution))


@given(
    histories(),
    st.sampled_from([US, SECOND, MINUTE, HOUR]),
    st.lists(st.floats(0, 1, exclude_min=True, exclude_max=True), min_size=1, max_size=5),
)
def test_next_change_is_the_next_visible_change(
    case: tuple[list[Event], dt.datetime],
    granularity: dt.timedelta,
    fractions: list[float],
) -> None:
    history, now = case
    past = until(history, now)
    sla = evaluate(past, POLICY, CALENDAR, now)
    found = sla.next_change(now, granularity)
    g_us = granularity // US
    if found is None:
        assert not sla.response.running
        assert not sla.resolution.running
        return
    assert found > now
    shown = display(sla, g_us)
    span = found - now
    for fraction in fractions:
        between = now + span * fraction
        if now < between < found:
            assert display(evaluate(past, POLICY, CALENDAR, between), g_us) == shown
    just_before = found - US
    if just_before > now:
        assert display(evaluate(past, POLICY, CALENDAR, just_before), g_us) == shown
    at_change = evaluate(past, POLICY, CALENDAR, found)
    # something visible changes there: a state, a displayed figure, or opening hours
    assert (display(at_change, g_us), CALENDAR.is_open(found)) != (shown, CALENDAR.is_open(now))


@given(histories(), st.integers(0, 3 * DAY_US))
def test_an_evaluation_moved_forward_is_the_evaluation_then(
    case: tuple[list[Event], dt.datetime], later_us: int
) -> None:
    history, now = case
    later = now + dt.timedelta(microseconds=later_us)
    sla = evaluate(history, POLICY, CALENDAR, now)
    moved = sla.advanced_us(to_us(later))
    if any(now < event.at <= later for event in history):
        assert moved is None  # an event happens in between: only a replay knows what it does
        return
    assert moved == evaluate(history, POLICY, CALENDAR, later)


def test_an_evaluation_is_not_moved_back_in_time() -> None:
    created = dt.datetime(2026, 3, 2, 10, tzinfo=PARIS)
    sla = evaluate(
        [Created(created, Priority.P2, Severity.MAJOR, "")], POLICY, CALENDAR, created + HOUR
    )
    assert sla.advanced_us(to_us(created + HOUR)) is sla
    assert sla.advanced_us(to_us(created + HOUR - US)) is None
    moved = sla.advanced_us(to_us(created + 2 * HOUR))
    assert moved is not None
    assert moved.response.elapsed == 2 * HOUR


@given(
    histories(),
    st.lists(st.floats(0, 1, exclude_min=True, exclude_max=True), min_size=1, max_size=5),
)
def test_next_change_of_state_only(
    case: tuple[list[Event], dt.datetime], fractions: list[float]
) -> None:
    history, now = case
    past = until(history, now)
    sla = evaluate(past, POLICY, CALENDAR, now)

    def states(when: dt.datetime) -> tuple[object, ...]:
        then = evaluate(past, POLICY, CALENDAR, when)
        return (then.response.state, then.resolution.state)

    found_us = sla.next_change_us(to_us(now), None)
    if found_us is None:
        assert not sla.response.running
        assert not sla.resolution.running
        return
    found = now + dt.timedelta(microseconds=found_us - to_us(now))
    assert found > now
    for fraction in fractions:
        between = now + (found - now) * fraction
        if now < between < found:
            assert states(between) == states(now)
    # a state changes there, or the opening hours do
    assert (states(found), CALENDAR.is_open(found)) != (states(now), CALENDAR.is_open(now))
