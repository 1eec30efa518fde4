"""A queue's SLA in columns says exactly what each ticket's own evaluation says."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from sla.clock import (
    NO_DUE,
    ClockKind,
    ClockStatus,
    Created,
    Event,
    QueueSla,
    Responded,
    Status,
    StatusChanged,
    evaluate,
    evaluate_many,
)
from sla.policy import Priority, Severity, default_calendar, default_policy

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


@pytest.fixture(scope="module")
def queue() -> QueueSla:
    return QueueSla(QUEUE, default_policy(), default_calendar(), NOW)


def test_columns_match_each_tickets_own_evaluation(queue: QueueSla) -> None:
    policy, calendar = default_policy(), default_calendar()
    assert len(queue) == len(QUEUE)
    for row, history in enumerate(QUEUE):
        sla = evaluate(history, policy, calendar, NOW)
        assert queue.ticket(row) == sla
        for kind, clock, remaining, due in (
            (ClockKind.RESPONSE, sla.response, queue.response_remaining_us, queue.response_due_us),
            (
                ClockKind.RESOLUTION,
                sla.resolution,
                queue.resolution_remaining_us,
                queue.resolution_due_us,
            ),
        ):
            assert queue.state(row, kind) is clock.state
            assert remaining[row] == clock.remaining_us
            assert due[row] == (NO_DUE if clock.due_us is None else clock.due_us)


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
