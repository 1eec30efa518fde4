"""A ticket's SLA timeline: when each clock started, paused, resumed, stopped, breached.

The ticket's detail view and the server's reports show it; these histories
are worked by hand on the default policy and calendar.
"""

from __future__ import annotations

import datetime as dt

from sla.clock import ClockKind, TimelineEntry, TimelineKind, evaluate
from sla.events import Event, Responded, Status, StatusChanged, reopened, resolved
from tests.sla.reference_histories import (
    BREACHED,
    CALENDAR,
    FRIDAY_1730_P1,
    MET,
    MONDAY_0900_P1,
    POLICY,
    h,
    pending,
    t,
)


def entries(*items: tuple[dt.datetime, ClockKind, TimelineKind]) -> list[TimelineEntry]:
    return [TimelineEntry(at, clock, kind) for at, clock, kind in items]


RESPONSE, RESOLUTION = ClockKind.RESPONSE, ClockKind.RESOLUTION
STARTED, TL_PAUSED, RESUMED = TimelineKind.STARTED, TimelineKind.PAUSED, TimelineKind.RESUMED
STOPPED, TL_BREACHED = TimelineKind.STOPPED, TimelineKind.BREACHED


def test_timeline_pause_resolve_reopen_breach() -> None:
    history: list[Event] = [
        *MONDAY_0900_P1,
        Responded(t(3, 9, 9, 30)),
        pending(t(3, 9, 10)),
        StatusChanged(t(3, 9, 11), Status.OPEN),
        resolved(t(3, 9, 12)),
        reopened(t(3, 9, 14)),
    ]
    sla = evaluate(history, POLICY, CALENDAR, t(3, 9, 17))
    # resolution: 09-10 (1 h) + 11-12 (1 h) + 14-17 (3 h) = 5 h of 4 h; the 4th hour
    # was reached at 14:00 + 2 h = 16:00
    assert sla.resolution.elapsed == h(5)
    assert sla.resolution.state is BREACHED
    assert sla.resolution.due == t(3, 9, 16)
    assert sla.timeline() == entries(
        (t(3, 9, 9), RESPONSE, STARTED),
        (t(3, 9, 9), RESOLUTION, STARTED),
        (t(3, 9, 9, 30), RESPONSE, STOPPED),
        (t(3, 9, 10), RESOLUTION, TL_PAUSED),
        (t(3, 9, 11), RESOLUTION, RESUMED),
        (t(3, 9, 12), RESOLUTION, STOPPED),
        (t(3, 9, 14), RESOLUTION, RESUMED),
        (t(3, 9, 16), RESOLUTION, TL_BREACHED),
    )


def test_timeline_late_response_and_pending() -> None:
    history: list[Event] = [*MONDAY_0900_P1, Responded(t(3, 9, 10, 30)), pending(t(3, 9, 11))]
    sla = evaluate(history, POLICY, CALENDAR, t(3, 9, 12))
    assert sla.response.timeline() == entries(
        (t(3, 9, 9), RESPONSE, STARTED),
        (t(3, 9, 10), RESPONSE, TL_BREACHED),  # 1 h target reached at 10:00
        (t(3, 9, 10, 30), RESPONSE, STOPPED),
    )
    assert sla.resolution.timeline() == entries(
        (t(3, 9, 9), RESOLUTION, STARTED),
        (t(3, 9, 11), RESOLUTION, TL_PAUSED),
    )


def test_timeline_resolved_while_pending() -> None:
    history: list[Event] = [
        *MONDAY_0900_P1,
        Responded(t(3, 9, 9, 10)),
        pending(t(3, 9, 10)),
        resolved(t(3, 9, 11)),
    ]
    clock = evaluate(history, POLICY, CALENDAR, t(3, 9, 12)).resolution
    # 1 h counted (09:00-10:00), then pending until the resolution at 11:00
    assert clock.state is MET
    assert clock.elapsed == h(1)
    assert clock.stopped_at == t(3, 9, 11)
    assert clock.timeline() == entries(
        (t(3, 9, 9), RESOLUTION, STARTED),
        (t(3, 9, 10), RESOLUTION, TL_PAUSED),
        (t(3, 9, 11), RESOLUTION, STOPPED),
    )


def test_timeline_of_a_running_clock_has_no_end() -> None:
    sla = evaluate(FRIDAY_1730_P1, POLICY, CALENDAR, t(3, 14, 12))
    assert sla.resolution.timeline() == entries((t(3, 13, 17, 30), RESOLUTION, STARTED))
