"""When a clock next changes what an agent sees: its state or its displayed time.

A console schedules one timer a ticket from :meth:`~sla.clock.TicketSla.next_change`
instead of polling; these are hand-worked instants of it (the properties in
:mod:`tests.sla.test_clock_properties` check it on any history).
"""

from __future__ import annotations

import datetime as dt

import pytest

from sla.clock import ClockState, TicketSla, evaluate
from sla.events import Event
from tests.sla.reference_histories import (
    CALENDAR,
    FRIDAY_1730_P1,
    HOUR,
    MINOR,
    MINUTE,
    MONDAY_0900_P1,
    P3,
    P4,
    PENDING_OVER_WEEKEND,
    POLICY,
    RESOLVED_THEN_REOPENED,
    SECOND,
    new,
    t,
)


@pytest.mark.parametrize(
    ("history", "now", "granularity", "which", "expected"),
    [
        # P3 minor, 09:00:30: 17h59m30s left, shown as 18h00 until 17h59m -> 09:01
        ([new(t(3, 9, 9), P3, MINOR)], t(3, 9, 9, 0, 30), MINUTE, "ticket", t(3, 9, 9, 1)),
        # by the second: 09:00:30.5 -> 09:00:31
        (
            [new(t(3, 9, 9), P3, MINOR)],
            t(3, 9, 9, 0, 30, 500_000),
            SECOND,
            "ticket",
            t(3, 9, 9, 0, 31),
        ),
        # 1 h target at 09:10 by the hour: shown "1 h" until 10:00, but at risk at
        # 09:30 (30 min left) comes first
        (MONDAY_0900_P1, t(3, 9, 9, 10), HOUR, "response", t(3, 9, 9, 30)),
        # 30 s left: the display drops to 0 at 10:00
        (MONDAY_0900_P1, t(3, 9, 9, 59, 30), MINUTE, "response", t(3, 9, 10)),
        # at 10:00 remaining 0 (at risk); breached 1 us later
        (MONDAY_0900_P1, t(3, 9, 10), MINUTE, "response", t(3, 9, 10, us=1)),
        # overdue 30m15s, shown -30 min until -31 min at 10:31:00
        (MONDAY_0900_P1, t(3, 9, 10, 30, 15), MINUTE, "response", t(3, 9, 10, 31)),
        # P4 minor from 09:20, at 17:45 by the hour: 18h35 / 171h35 left would
        # next show a new figure at 18:20, but the office closes at 18:00
        ([new(t(3, 9, 9, 20), P4, MINOR)], t(3, 9, 17, 45), HOUR, "ticket", t(3, 9, 18)),
        # closed on Saturday: nothing changes before Monday 09:00
        (FRIDAY_1730_P1, t(3, 14, 12), MINUTE, "ticket", t(3, 16, 9)),
        # paused resolution clock: only an event changes it
        (PENDING_OVER_WEEKEND, t(3, 14, 10), MINUTE, "resolution", None),
        # response stopped, resolution paused: nothing to schedule for the ticket
        (PENDING_OVER_WEEKEND, t(3, 14, 10), MINUTE, "ticket", None),
        # both clocks stopped
        (RESOLVED_THEN_REOPENED[:3], t(3, 10, 15), MINUTE, "ticket", None),
    ],
    ids=[
        "minute-boundary",
        "second-boundary",
        "at-risk-crossing",
        "display-reaches-zero",
        "breach-instant",
        "overdue-minutes",
        "closing-time",
        "closed-to-next-open",
        "paused",
        "paused-and-stopped",
        "stopped",
    ],
)
def test_next_change(
    history: list[Event],
    now: dt.datetime,
    granularity: dt.timedelta,
    which: str,
    expected: dt.datetime | None,
) -> None:
    sla = evaluate(history, POLICY, CALENDAR, now)
    target: TicketSla | ClockState = sla if which == "ticket" else getattr(sla, which)
    assert target.next_change(now, granularity) == expected


def test_next_change_default_granularity_is_a_minute() -> None:
    sla = evaluate(MONDAY_0900_P1, POLICY, CALENDAR, t(3, 9, 9, 0, 0, 1))
    assert sla.next_change(t(3, 9, 9, 0, 0, 1)) == t(3, 9, 9, 1)
