"""A queue's SLA in columns says exactly what each ticket's own evaluation says."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sla.calendar import BusinessCalendar, CalendarError
from sla.clock import ClockKind, ClockStatus, HistoryError, TicketSla, evaluate
from sla.events import (
    Created,
    Event,
    Responded,
    Status,
    StatusChanged,
)
from sla.policy import (
    ANY_PLAN,
    Priority,
    Severity,
    SlaConfigError,
    SlaPolicy,
    Targets,
    default_calendar,
    default_policy,
)
from sla.queue import NO_DUE, QueueSla, evaluate_many
from tests.sla.drawn import drawn_creation, drawn_event

PARIS = ZoneInfo("Europe/Paris")
NOW = dt.datetime(2026, 3, 18, 14, 0, tzinfo=PARIS)  # a Wednesday afternoon


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=PARIS)


QUEUE: list[list[Event]] = [
    # P1 blocking created at 13:00: 1 h response target, breached at 14:00 + 1 µs
    [Created(at(18, 13), Priority.P1, Severity.BLOCKING, "enterprise")],
    # answered, then waiting on the customer: resolution paused, no due instant
    [
        Created(at(17, 10), Priority.P3, Severity.MINOR, "enterprise"),
        Responded(at(17, 11)),
        StatusChanged(at(17, 12), Status.PENDING),
    ],
    # resolved within target
    [
        Created(at(16, 9), Priority.P2, Severity.MAJOR, "business"),
        Responded(at(16, 10)),
        StatusChanged(at(16, 15), Status.RESOLVED),
    ],
]


def assert_columns_say(queue: QueueSla, row: int, sla: TicketSla) -> None:
    """Each clock's columns at ``row`` say what the ticket's own evaluation ``sla`` says."""
    for kind, clock, remaining, due, risk in (
        (
            ClockKind.RESPONSE,
            sla.response,
            queue.response_remaining_us,
            queue.response_due_us,
            queue.response_risk_us,
        ),
        (
            ClockKind.RESOLUTION,
            sla.resolution,
            queue.resolution_remaining_us,
            queue.resolution_due_us,
            queue.resolution_risk_us,
        ),
    ):
        assert queue.state(row, kind) is clock.state
        assert remaining[row] == clock.remaining_us
        assert due[row] == (NO_DUE if clock.due_us is None else clock.due_us)
        assert risk[row] == clock.risk_us


@pytest.fixture(scope="module")
def queue() -> QueueSla:
    return QueueSla(QUEUE, default_policy(), default_calendar(), NOW)


def test_columns_match_each_tickets_own_evaluation(queue: QueueSla) -> None:
    policy, calendar = default_policy(), default_calendar()
    assert len(queue) == len(QUEUE)
    for row, history in enumerate(QUEUE):
        sla = evaluate(history, policy, calendar, NOW)
        assert queue.ticket(row) == sla
        assert_columns_say(queue, row, sla)


def test_what_an_agent_sees_in_the_columns(queue: QueueSla) -> None:
    assert queue.state(0, ClockKind.RESPONSE) is ClockStatus.AT_RISK  # 0 s left at 14:00
    assert queue.response_remaining_us[0] == 0
    assert queue.state(1, ClockKind.RESOLUTION) is ClockStatus.PAUSED
    assert queue.resolution_due_us[1] == NO_DUE
    assert queue.state(2, ClockKind.RESOLUTION) is ClockStatus.MET


def test_evaluate_many_is_evaluate_for_each() -> None:
    policy, calendar = default_policy(), default_calendar()
    assert evaluate_many(QUEUE, policy, calendar, NOW) == [
        evaluate(history, policy, calendar, NOW) for history in QUEUE
    ]


# -- properties: the columns are each ticket's own evaluation ---------------------

SPLIT_HOURS = {  # a lunch break, and a zone half an hour off UTC
    day: [(dt.time(9, 30), dt.time(12, 30)), (dt.time(13, 30), dt.time(18))] for day in range(6)
}
CALENDARS = {
    "default": default_calendar(),
    "split": BusinessCalendar(
        "Asia/Kolkata",
        SPLIT_HOURS,
        [dt.date(2026, 3, 4)],
        horizon=(dt.date(2025, 1, 1), dt.date(2028, 1, 1)),
    ),
}


def _targets(response: dt.timedelta, resolution: dt.timedelta) -> dict[Any, Targets]:
    return {(p, s): Targets(response, resolution) for p in Priority for s in Severity}


POLICIES = {
    "default": default_policy(),
    # minutes and microseconds, so that clocks cross their targets between events
    "tight": SlaPolicy(
        name="tight",
        calendar="any",
        targets={
            "enterprise": {
                **_targets(dt.timedelta(minutes=20), dt.timedelta(hours=3)),
                (Priority.P1, Severity.BLOCKING): Targets(
                    dt.timedelta(microseconds=1), dt.timedelta(microseconds=2)
                ),
            },
            ANY_PLAN: _targets(dt.timedelta(hours=1), dt.timedelta(hours=10)),
        },
        at_risk_minimum=dt.timedelta(0),
    ),
}
QUEUE_NOW = dt.datetime(2026, 3, 30, 9, 0, tzinfo=PARIS)  # the Monday after DST began
HOUR_US = 3_600_000_000


@st.composite
def queue_histories(draw: st.DrawFn, now: dt.datetime) -> list[Event]:
    """A ticket created up to three weeks before ``now``; some events come after
    ``now``, some at the same instant, some listed out of order."""
    # instants are computed in UTC: wall-clock arithmetic in Paris would land in the
    # spring DST gap, where a later wall-clock time can be an earlier instant
    utc_now = now.astimezone(dt.UTC)
    created_utc = utc_now - dt.timedelta(microseconds=draw(st.integers(0, 21 * 24 * HOUR_US)))
    if draw(st.integers(0, 9)) == 0:  # on the hour: opening and closing instants
        created_utc = created_utc.replace(minute=0, second=0, microsecond=0)
    created_at = created_utc.astimezone(now.tzinfo)
    events: list[Event] = [drawn_creation(draw, created_at)]
    # instants spread from the creation to a little after now; a few repeat
    span = (utc_now - created_utc) // dt.timedelta(microseconds=1)
    offsets = draw(st.lists(st.integers(0, span + span // 8 + 1), max_size=8))
    at = created_at
    for offset in sorted(offsets):
        if draw(st.integers(0, 5)):  # else at the same instant as the event before
            at = (created_utc + dt.timedelta(microseconds=offset)).astimezone(now.tzinfo)
        kind = draw(st.sampled_from(["reply", "status", "status", "priority", "severity"]))
        events.append(drawn_event(draw, kind, at))
    if draw(st.integers(0, 3)) == 0:
        shuffled = draw(st.permutations(events))
        # listed out of order, yet the creation still comes first by instant
        if sorted(shuffled, key=lambda event: event.at)[0] is events[0]:
            events = shuffled
    return events


@settings(max_examples=150)
@given(
    st.sampled_from(sorted(CALENDARS)),
    st.sampled_from(sorted(POLICIES)),
    st.sampled_from([QUEUE_NOW, QUEUE_NOW.replace(hour=18), QUEUE_NOW.replace(hour=3)]),
    st.sampled_from([None, dt.timedelta(seconds=1), dt.timedelta(minutes=1)]),
    st.data(),
)
def test_queue_columns_are_each_tickets_evaluation(
    calendar_name: str,
    policy_name: str,
    now: dt.datetime,
    granularity: dt.timedelta | None,
    data: st.DataObject,
) -> None:
    calendar, policy = CALENDARS[calendar_name], POLICIES[policy_name]
    histories = data.draw(st.lists(queue_histories(now), min_size=1, max_size=12))
    queue = QueueSla(histories, policy, calendar, now, granularity)
    step = None if granularity is None else granularity // dt.timedelta(microseconds=1)
    assert len(queue) == len(histories)
    for row, history in enumerate(histories):
        sla = evaluate(history, policy, calendar, now)
        assert queue.ticket(row) == sla
        assert list(Priority)[queue.priority[row]] is sla.priority
        change = sla.next_change_us(queue.now_us, step)
        assert queue.next_change_us[row] == (-1 if change is None else change)
        assert_columns_say(queue, row, sla)


def test_a_queue_replays_histories_listed_out_of_order() -> None:
    created = Created(at(18, 9), Priority.P2, Severity.MAJOR, "enterprise")
    histories: list[list[Event]] = [
        # a reply listed after one still to come (after now) counts all the same
        [created, StatusChanged(at(18, 16), Status.RESOLVED), Responded(at(18, 10))],
        # the creation listed last
        [Responded(at(18, 10)), StatusChanged(at(18, 11), Status.PENDING), created],
        # listed newest first
        [StatusChanged(at(18, 12), Status.PENDING), Responded(at(18, 10)), created],
    ]
    queue = QueueSla(histories, default_policy(), default_calendar(), NOW)
    assert [queue.state(row, ClockKind.RESPONSE) for row in range(3)] == [ClockStatus.MET] * 3
    assert queue.response_remaining_us[0] == 3 * HOUR_US  # 4 h target, 1 h taken
    assert queue.state(1, ClockKind.RESOLUTION) is ClockStatus.PAUSED
    assert queue.resolution_due_us[1] == NO_DUE
    assert queue.state(2, ClockKind.RESOLUTION) is ClockStatus.PAUSED


@pytest.mark.parametrize(
    ("history", "now"),
    [
        ([], NOW),
        ([Responded(at(18, 10))], NOW),  # no creation
        ([Created(at(18, 15), Priority.P1, Severity.MINOR, "x")], NOW),  # after now
        (  # created twice
            [
                Created(at(18, 9), Priority.P1, Severity.MINOR, "x"),
                Created(at(18, 10), Priority.P1, Severity.MINOR, "x"),
            ],
            NOW,
        ),
        (  # before the calendar's horizon
            [
                Created(
                    dt.datetime(2024, 12, 31, 12, tzinfo=dt.UTC), Priority.P1, Severity.MINOR, "x"
                )
            ],
            NOW,
        ),
    ],
)
def test_a_queue_raises_as_its_tickets_do(history: list[Event], now: dt.datetime) -> None:
    calendar, policy = CALENDARS["split"], default_policy()
    fine = QUEUE[0]
    with pytest.raises((HistoryError, CalendarError)) as expected:
        evaluate(history, policy, calendar, now)
    with pytest.raises(type(expected.value), match=re.escape(str(expected.value))):
        QueueSla([fine, history, fine], policy, calendar, now)


def test_a_plan_the_policy_does_not_know_raises() -> None:
    policy = SlaPolicy(
        name="enterprise only",
        calendar="any",
        targets={"enterprise": _targets(dt.timedelta(hours=1), dt.timedelta(hours=8))},
    )
    history: list[Event] = [Created(at(18, 10), Priority.P2, Severity.MAJOR, "business")]
    with pytest.raises(SlaConfigError, match="no targets for plan 'business'"):
        QueueSla([history], policy, default_calendar(), NOW)
