"""What an SLA cell says, and how often that changes."""

from __future__ import annotations

import datetime as dt

import pytest

from desktop.models.sla_cells import clock_text, clock_text_step
from sla.clock import ClockState, evaluate
from sla.events import Created, Status, StatusChanged
from sla.policy import Priority, Severity, default_calendar, default_policy
from tests.desktop.conftest import T0

SECOND = dt.timedelta(seconds=1)
MINUTE = dt.timedelta(minutes=1)
CALENDAR = default_calendar()


def resolution(now: dt.datetime, *, pending: bool = False) -> ClockState:
    """The resolution clock of a P3 ticket created at T0 (waiting on the customer)."""
    events: list[Created | StatusChanged] = [Created(T0, Priority.P3, Severity.MINOR, "enterprise")]
    if pending:
        events.append(StatusChanged(T0, Status.PENDING))
    return evaluate(events, default_policy(), CALENDAR, now).resolution


def when_left(left: dt.timedelta) -> dt.datetime:
    """When the resolution clock has ``left`` business time left (negative: overdue)."""
    return CALENDAR.add(T0, resolution(T0).target - left)


@pytest.mark.parametrize(
    ("left", "step"),
    [
        (dt.timedelta(hours=9, minutes=59, seconds=59), SECOND),  # "9 h 59 min 59 s"
        (dt.timedelta(hours=10), SECOND),  # "10 h 00 min", then "9 h 59 min 59 s"
        (dt.timedelta(hours=10, seconds=1), MINUTE),  # "10 h 01 min"
        (-dt.timedelta(minutes=59, seconds=59), SECOND),  # "Overdue 59 min 59 s"
        (-dt.timedelta(hours=1), MINUTE),  # "Overdue 1 h 00 min"
    ],
)
def test_a_countdown_changes_each_second_while_it_shows_seconds(
    left: dt.timedelta, step: dt.timedelta
) -> None:
    clock = resolution(when_left(left))
    assert clock.remaining == left
    assert clock_text_step(clock) == step


def test_a_clock_that_stands_still_never_changes_its_text() -> None:
    assert clock_text_step(resolution(T0 + MINUTE, pending=True)) is None
    assert clock_text_step(None) is None


def test_a_countdown_rounds_up_and_changes_when_next_change_says() -> None:
    almost = when_left(dt.timedelta(milliseconds=400))
    assert clock_text(resolution(almost), almost) == "1 s"  # not "0 s": not breached yet
    due = when_left(dt.timedelta(0))
    assert clock_text(resolution(due), due) == "0 s"
    now = when_left(dt.timedelta(seconds=2, milliseconds=500))
    change = resolution(now).next_change(now, SECOND)
    assert change == when_left(2 * SECOND)
    assert clock_text(resolution(now), now) == "3 s"
    assert clock_text(resolution(change), change) == "2 s"  # at that instant, not later
