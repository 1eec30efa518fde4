"""The worked examples the SLA clock tests share: instants, targets and histories.

The clock tests check figures worked out by hand; these are the instants and
ticket histories they start from, named once so that every test reads them
alike.  They hold under the default policy (Enterprise targets in business
hours; other plans doubled) and the default calendar (Monday-Friday
09:00-18:00 Europe/Paris, French public holidays).  Reference weeks (2026):

    March:  Mon 9  Tue 10  Wed 11  Thu 12  Fri 13  Sat 14  Sun 15
            Mon 16 Tue 17  Wed 18  Thu 19  Fri 20
    April:  Fri 3, Sat 4, Sun 5, Mon 6 (Easter Monday, closed), Tue 7

Default at-risk rule: remaining <= max(25 % of the target, 30 min).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sla.clock import ClockStatus
from sla.events import (
    Created,
    Event,
    PriorityChanged,
    Responded,
    SeverityChanged,
    Status,
    StatusChanged,
    reopened,
    resolved,
)
from sla.policy import Priority, Severity, default_calendar, default_policy

PARIS = ZoneInfo("Europe/Paris")
CALENDAR = default_calendar()
POLICY = default_policy()

P1, P2, P3, P4 = Priority.P1, Priority.P2, Priority.P3, Priority.P4
BLOCKING, MAJOR, MINOR = Severity.BLOCKING, Severity.MAJOR, Severity.MINOR
RUNNING = ClockStatus.RUNNING
PAUSED = ClockStatus.PAUSED
OUTSIDE = ClockStatus.OUTSIDE_HOURS
AT_RISK = ClockStatus.AT_RISK
BREACHED = ClockStatus.BREACHED
MET = ClockStatus.MET
MISSED = ClockStatus.MISSED
US = dt.timedelta(microseconds=1)


def t(
    month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> dt.datetime:
    """A wall-clock instant of 2026 in Paris."""
    return dt.datetime(2026, month, day, hour, minute, second, us, tzinfo=PARIS)


def h(hours: float = 0, minutes: float = 0, us: int = 0) -> dt.timedelta:
    return dt.timedelta(hours=hours, minutes=minutes, microseconds=us)


def new(
    at: dt.datetime, priority: Priority, severity: Severity, plan: str = "enterprise"
) -> Created:
    return Created(at, priority, severity, plan)


def pending(at: dt.datetime) -> StatusChanged:
    return StatusChanged(at, Status.PENDING)


FRIDAY_1730_P1: list[Event] = [new(t(3, 13, 17, 30), P1, BLOCKING)]  # targets 1 h / 4 h
PENDING_OVER_WEEKEND: list[Event] = [
    new(t(3, 12, 10), P2, MINOR),  # P2 minor: 9 h / 45 h (risk 2h15 / 11h15)
    Responded(t(3, 12, 11)),
    pending(t(3, 13, 16)),
    StatusChanged(t(3, 15, 20), Status.OPEN),  # the customer answers on Sunday evening
]
RESOLVED_THEN_REOPENED: list[Event] = [
    new(t(3, 9, 9), P3, MAJOR),  # P3 major: 9 h / 45 h
    Responded(t(3, 9, 10)),
    resolved(t(3, 10, 12)),
    reopened(t(3, 11, 9)),
]
P4_RAISED_TO_P1: list[Event] = [
    new(t(3, 9, 9), P4, MAJOR),  # P4 major: 18 h / 90 h
    Responded(t(3, 9, 9, 30)),
    PriorityChanged(t(3, 10, 12), P1),  # P1 major: 2 h / 9 h
]
SEVERITY_LOWERED: list[Event] = [
    new(t(3, 9, 9), P2, BLOCKING),  # P2 blocking: 2 h / 9 h (risk 30 min / 2h15)
    Responded(t(3, 9, 9, 45)),
    SeverityChanged(t(3, 9, 15), MINOR),  # P2 minor: 9 h / 45 h
]
MONDAY_0900_P1: list[Event] = [new(t(3, 9, 9), P1, BLOCKING)]

# the granularities a countdown may show
MINUTE = dt.timedelta(minutes=1)
SECOND = dt.timedelta(seconds=1)
HOUR = dt.timedelta(hours=1)
