"""SLA clocks over whole ticket histories, against hand-computed expectations.

Every expected figure below was worked out by hand from the default policy and
calendar (see :mod:`tests.sla.reference_histories` for the reference weeks and
the at-risk rule); the comment next to each shows the arithmetic.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest

from sla.clock import ClockState, ClockStatus, HistoryError, evaluate
from sla.events import Event, Responded, Status, closed, resolved
from sla.policy import Priority, Severity, SlaPolicy, Targets, default_policy
from tests.sla.reference_histories import (
    AT_RISK,
    BLOCKING,
    BREACHED,
    CALENDAR,
    FRIDAY_1730_P1,
    MAJOR,
    MET,
    MINOR,
    MISSED,
    MONDAY_0900_P1,
    OUTSIDE,
    P1,
    P2,
    P3,
    P4,
    P4_RAISED_TO_P1,
    PARIS,
    PAUSED,
    PENDING_OVER_WEEKEND,
    POLICY,
    RESOLVED_THEN_REOPENED,
    RUNNING,
    SEVERITY_LOWERED,
    US,
    h,
    new,
    pending,
    t,
)


@dataclass(frozen=True)
class Expect:
    state: ClockStatus
    elapsed: dt.timedelta
    remaining: dt.timedelta
    due: dt.datetime | None
    resumes_at: dt.datetime | None = None
    target: dt.timedelta | None = None  # checked when given


@dataclass(frozen=True)
class Case:
    id: str
    history: list[Event]
    now: dt.datetime
    response: Expect
    resolution: Expect
    notes: str = field(default="", compare=False)


CASES = [
    # -- created Friday 17:30, 1 h response target ---------------------------
    Case(
        "friday-1730-at-1745",
        FRIDAY_1730_P1,
        t(3, 13, 17, 45),
        # 17:30 -> 17:45 = 15 min; 60 - 15 = 45 min > 30 min threshold; 30 min on
        # Friday + 30 min on Monday -> Mon 09:30
        Expect(RUNNING, h(minutes=15), h(minutes=45), t(3, 16, 9, 30)),
        # 4 h - 15 min = 3h45 > max(1 h, 30 min); 30 min Friday + 3h30 Monday -> 12:30
        Expect(RUNNING, h(minutes=15), h(3, 45), t(3, 16, 12, 30)),
    ),
    Case(
        "friday-1730-at-closing-1800",
        FRIDAY_1730_P1,
        t(3, 13, 18),
        # [09:00, 18:00) is half open: closed at 18:00; 30 min done, 30 min left =
        # threshold -> at risk; counting resumes Monday 09:00
        Expect(AT_RISK, h(minutes=30), h(minutes=30), t(3, 16, 9, 30), t(3, 16, 9)),
        Expect(OUTSIDE, h(minutes=30), h(3, 30), t(3, 16, 12, 30), t(3, 16, 9)),
    ),
    Case(
        "friday-1730-over-weekend",
        FRIDAY_1730_P1,
        t(3, 14, 12),
        # Saturday noon: nothing more counted since Friday 18:00
        Expect(AT_RISK, h(minutes=30), h(minutes=30), t(3, 16, 9, 30), t(3, 16, 9)),
        # 3h30 left > max(25 % of 4 h = 1 h, 30 min): outside hours, not at risk
        Expect(OUTSIDE, h(minutes=30), h(3, 30), t(3, 16, 12, 30), t(3, 16, 9)),
    ),
    Case(
        "friday-1730-monday-0930-due",
        FRIDAY_1730_P1,
        t(3, 16, 9, 30),
        # 30 + 30 min = 1 h = target: remaining 0, due now, not yet breached
        Expect(AT_RISK, h(1), h(0), t(3, 16, 9, 30)),
        # 1 h elapsed, 3 h left > 1 h threshold
        Expect(RUNNING, h(1), h(3), t(3, 16, 12, 30)),
    ),
    Case(
        "friday-1730-monday-0931-breached",
        FRIDAY_1730_P1,
        t(3, 16, 9, 31),
        # 30 + 31 = 61 min > 60: breached by 1 min; due stays Mon 09:30
        Expect(BREACHED, h(minutes=61), h(minutes=-1), t(3, 16, 9, 30)),
        Expect(RUNNING, h(minutes=61), h(2, 59), t(3, 16, 12, 30)),
    ),
    # -- created outside business hours ---------------------------------------
    Case(
        "created-saturday-counts-from-monday",
        [new(t(3, 14, 10), P1, BLOCKING)],
        t(3, 16, 9, 15),
        # nothing counted before Mon 09:00; 15 min since
        Expect(RUNNING, h(minutes=15), h(minutes=45), t(3, 16, 10)),
        Expect(RUNNING, h(minutes=15), h(3, 45), t(3, 16, 13)),
    ),
    Case(
        "created-before-opening",
        [new(t(3, 16, 7), P1, BLOCKING)],
        t(3, 16, 8),
        # Monday 08:00: still closed, nothing elapsed, starts at 09:00
        Expect(OUTSIDE, h(0), h(1), t(3, 16, 10), t(3, 16, 9)),
        Expect(OUTSIDE, h(0), h(4), t(3, 16, 13), t(3, 16, 9)),
    ),
    # -- pending over a weekend ----------------------------------------------
    Case(
        "pending-over-weekend-paused",
        PENDING_OVER_WEEKEND,
        t(3, 14, 10),
        # response: Thu 10:00 -> 11:00 = 1 h of 9 h, met; would have been due
        # Thu 11:00 + 8 h = 7 h (to 18:00) + 1 h Friday -> Fri 10:00
        Expect(MET, h(1), h(8), t(3, 13, 10)),
        # resolution: Thu 10-18 = 8 h + Fri 09-16 = 7 h = 15 h; 45 - 15 = 30 h; paused
        Expect(PAUSED, h(15), h(30), None),
    ),
    Case(
        "pending-resumed-sunday-evening",
        PENDING_OVER_WEEKEND,
        t(3, 15, 21),
        Expect(MET, h(1), h(8), t(3, 13, 10)),
        # open again but the calendar is closed; 30 h from Mon 09:00:
        # Mon 9 + Tue 9 + Wed 9 = 27 h, + 3 h Thursday -> Thu 19 12:00
        Expect(OUTSIDE, h(15), h(30), t(3, 19, 12), t(3, 16, 9)),
    ),
    Case(
        "pending-resumed-monday",
        PENDING_OVER_WEEKEND,
        t(3, 16, 10),
        Expect(MET, h(1), h(8), t(3, 13, 10)),
        # 15 h + Mon 09-10 = 16 h; 29 h left: Mon 8 + Tue 9 + Wed 9 = 26, + 3 -> Thu 12:00
        Expect(RUNNING, h(16), h(29), t(3, 19, 12)),
    ),
    # -- resolved, then reopened ----------------------------------------------
    Case(
        "resolved-met",
        RESOLVED_THEN_REOPENED,
        t(3, 10, 15),
        # response Mon 09:00 -> 10:00 = 1 h of 9 h; +8 h from Mon 10:00 -> Mon 18:00
        Expect(MET, h(1), h(8), t(3, 9, 18)),
        # Mon 9 h + Tue 09-12 = 12 h of 45 h, 33 left; from Tue 12:00: Tue 6 + Wed 9 +
        # Thu 9 + Fri 9 = 33 -> Fri 13 18:00 (the earliest instant, not Mon 09:00)
        Expect(MET, h(12), h(33), t(3, 13, 18)),
    ),
    Case(
        "reopened-elapsed-continues",
        RESOLVED_THEN_REOPENED,
        t(3, 11, 11),
        Expect(MET, h(1), h(8), t(3, 9, 18)),
        # 12 h + Wed 09-11 = 14 h; 31 h left: Wed 7 + Thu 9 + Fri 9 = 25, +6 -> Mon 16 15:00
        Expect(RUNNING, h(14), h(31), t(3, 16, 15)),
    ),
    # -- priority raised mid-way -----------------------------------------------
    Case(
        "priority-p4-before-raise",
        P4_RAISED_TO_P1,
        t(3, 10, 11, 59),
        # response Mon 09:00 -> 09:30 of 18 h; 17h30 left from 09:30: Mon 8h30 + Tue 9 h
        Expect(MET, h(minutes=30), h(17, 30), t(3, 10, 18)),
        # Mon 9 h + Tue 2h59 = 11h59 of 90 h; 78h01 left: Tue 6h01 + 8 days x 9 h
        # (Wed 11 .. Fri 20) -> Fri 20 18:00
        Expect(RUNNING, h(11, 59), h(78, 1), t(3, 20, 18)),
    ),
    Case(
        "priority-raised-to-p1-breached-at-once",
        P4_RAISED_TO_P1,
        t(3, 10, 12),
        # the response clock stopped under P4: it keeps the 18 h target
        Expect(MET, h(minutes=30), h(17, 30), t(3, 10, 18), target=h(18)),
        # now P1 major, 9 h: 12 h elapsed -> 3 h over; 9 h were reached at Mon 18:00
        Expect(BREACHED, h(12), h(-3), t(3, 9, 18), target=h(9)),
    ),
    # -- severity lowered mid-way --------------------------------------------
    Case(
        "severity-blocking-before-change",
        SEVERITY_LOWERED,
        t(3, 9, 14, 59),
        # response 45 min of 2 h -> met, 1h15 left: 09:45 + 1h15 = 11:00
        Expect(MET, h(minutes=45), h(1, 15), t(3, 9, 11)),
        # 5h59 of 9 h; 3h01 > 2h15 threshold; due 18:00
        Expect(RUNNING, h(5, 59), h(3, 1), t(3, 9, 18)),
    ),
    Case(
        "severity-lowered-target-grows",
        SEVERITY_LOWERED,
        t(3, 9, 16),
        Expect(MET, h(minutes=45), h(1, 15), t(3, 9, 11), target=h(2)),
        # minor: 45 h; 7 h kept; 38 h left: Mon 2 + Tue..Fri 4 x 9 = 38 -> Fri 13 18:00
        Expect(RUNNING, h(7), h(38), t(3, 13, 18), target=h(45)),
    ),
    # -- resolved at the due instant ------------------------------------------
    Case(
        "resolved-exactly-at-due-met",
        [*MONDAY_0900_P1, Responded(t(3, 9, 9, 10)), resolved(t(3, 9, 13))],
        t(3, 9, 14),
        # response 10 min of 1 h; due 09:10 + 50 min = 10:00
        Expect(MET, h(minutes=10), h(minutes=50), t(3, 9, 10)),
        # 09:00 -> 13:00 = 4 h = target: met
        Expect(MET, h(4), h(0), t(3, 9, 13)),
    ),
    Case(
        "resolved-1us-after-due-missed",
        [*MONDAY_0900_P1, Responded(t(3, 9, 9, 10)), resolved(t(3, 9, 13, us=1))],
        t(3, 9, 14),
        Expect(MET, h(minutes=10), h(minutes=50), t(3, 9, 10)),
        Expect(MISSED, h(4, us=1), -US, t(3, 9, 13)),
    ),
    # -- first response -------------------------------------------------------
    Case(
        "acknowledgement-is-a-response",
        [*MONDAY_0900_P1, Responded(t(3, 9, 9, 20))],  # "prise en compte" at 09:20
        t(3, 9, 10),
        Expect(MET, h(minutes=20), h(minutes=40), t(3, 9, 10)),
        # 1 h of 4 h, 3 h left > 1 h threshold
        Expect(RUNNING, h(1), h(3), t(3, 9, 13)),
    ),
    Case(
        "late-response-missed",
        [*MONDAY_0900_P1, Responded(t(3, 9, 10, 30))],
        t(3, 9, 11),
        Expect(MISSED, h(1, 30), h(minutes=-30), t(3, 9, 10)),
        Expect(RUNNING, h(2), h(2), t(3, 9, 13)),
    ),
    Case(
        "closed-without-reply",
        [new(t(3, 9, 9), P3, MINOR), closed(t(3, 10, 10))],  # P3 minor: 18 h / 90 h
        t(3, 10, 11),
        # closing stops the response clock: Mon 9 h + Tue 1 h = 10 h of 18 h, 8 h left
        # -> Tue 10:00 + 8 h = Tue 18:00
        Expect(MET, h(10), h(8), t(3, 10, 18)),
        # 80 h left from Tue 10:00: Tue 8 + 8 x 9 (Wed 11 .. Fri 20) -> Fri 20 18:00
        Expect(MET, h(10), h(80), t(3, 20, 18)),
    ),
    Case(
        "closed-without-reply-too-late",
        [*MONDAY_0900_P1, closed(t(3, 9, 11))],
        t(3, 9, 12),
        # 2 h for a 1 h response target: missed by 1 h, due was 10:00
        Expect(MISSED, h(2), h(-1), t(3, 9, 10)),
        Expect(MET, h(2), h(2), t(3, 9, 13)),
    ),
    # -- events after now ------------------------------------------------------
    Case(
        "events-after-now-ignored",
        [*MONDAY_0900_P1, Responded(t(3, 9, 11)), resolved(t(3, 9, 12))],
        t(3, 9, 9, 40),
        # at 09:40 neither event has happened: 40 min of 1 h, 20 min <= 30 min
        Expect(AT_RISK, h(minutes=40), h(minutes=20), t(3, 9, 10)),
        Expect(RUNNING, h(minutes=40), h(3, 20), t(3, 9, 13)),
    ),
    # -- plans ---------------------------------------------------------------
    Case(
        "business-plan-doubled",
        [new(t(3, 9, 9), P1, BLOCKING, "business")],
        t(3, 9, 10),
        # 2 h response: 1 h left > max(30 min, 30 min); due 11:00
        Expect(RUNNING, h(1), h(1), t(3, 9, 11), target=h(2)),
        # 8 h resolution: 7 h left; due 17:00
        Expect(RUNNING, h(1), h(7), t(3, 9, 17), target=h(8)),
    ),
    Case(
        "unknown-plan-gets-other-plans-targets",
        [new(t(3, 9, 9), P1, BLOCKING, "starter")],
        t(3, 9, 10),
        Expect(RUNNING, h(1), h(1), t(3, 9, 11), target=h(2)),
        Expect(RUNNING, h(1), h(7), t(3, 9, 17), target=h(8)),
    ),
    # -- at-risk boundaries -----------------------------------------------------
    Case(
        "response-at-risk-exactly-at-30-min",
        MONDAY_0900_P1,
        t(3, 9, 9, 30),
        # 1 h target: threshold max(15 min, 30 min) = 30 min, remaining 30 min
        Expect(AT_RISK, h(minutes=30), h(minutes=30), t(3, 9, 10)),
        Expect(RUNNING, h(minutes=30), h(3, 30), t(3, 9, 13)),
    ),
    Case(
        "response-1us-before-threshold",
        MONDAY_0900_P1,
        t(3, 9, 9, 29, 59, 999_999),
        Expect(RUNNING, h(minutes=30, us=-1), h(minutes=30, us=1), t(3, 9, 10)),
        Expect(RUNNING, h(minutes=30, us=-1), h(3, 30, us=1), t(3, 9, 13)),
    ),
    Case(
        "resolution-at-risk-exactly-at-25-percent",
        MONDAY_0900_P1,
        t(3, 9, 12),
        # 4 h target: threshold max(1 h, 30 min) = 1 h; 3 h elapsed, 1 h left
        Expect(BREACHED, h(3), h(-2), t(3, 9, 10)),
        Expect(AT_RISK, h(3), h(1), t(3, 9, 13)),
    ),
    Case(
        "resolution-1us-before-25-percent",
        MONDAY_0900_P1,
        t(3, 9, 11, 59, 59, 999_999),
        Expect(BREACHED, h(3, us=-1), h(-2, us=1), t(3, 9, 10)),
        Expect(RUNNING, h(3, us=-1), h(1, us=1), t(3, 9, 13)),
    ),
    Case(
        "fraction-threshold-of-a-long-target",
        [new(t(3, 9, 9), P3, MINOR)],
        t(3, 10, 13, 30),
        # 18 h target: threshold max(4h30, 30 min) = 4h30; Mon 9 h + Tue 4h30 =
        # 13h30 elapsed, 4h30 left -> at risk; due Tue 13:30 + 4h30 = 18:00
        Expect(AT_RISK, h(13, 30), h(4, 30), t(3, 10, 18)),
        # 90 h: 76h30 left: Tue 4h30 + 8 x 9 h (Wed 11 .. Fri 20) -> Fri 20 18:00
        Expect(RUNNING, h(13, 30), h(76, 30), t(3, 20, 18)),
    ),
    # -- public holidays -------------------------------------------------------
    Case(
        "easter-monday-2026-04-06-skipped",
        [new(t(4, 3, 17), P1, MAJOR)],  # P1 major: 2 h / 9 h (risk 30 min / 2h15)
        t(4, 6, 12),
        # Fri 17-18 = 1 h; Easter Monday closed; 1 h more -> Tue 7 10:00
        Expect(OUTSIDE, h(1), h(1), t(4, 7, 10), t(4, 7, 9)),
        # 8 h left -> Tue 7 17:00
        Expect(OUTSIDE, h(1), h(8), t(4, 7, 17), t(4, 7, 9)),
    ),
]


def check(clock: ClockState, expect: Expect) -> None:
    assert clock.state is expect.state
    assert clock.elapsed == expect.elapsed
    assert clock.remaining == expect.remaining
    assert clock.due == expect.due
    if clock.due is not None:
        assert clock.due.tzinfo == PARIS
    assert clock.resumes_at == expect.resumes_at
    if expect.target is not None:
        assert clock.target == expect.target


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_ticket_history(case: Case) -> None:
    sla = evaluate(case.history, POLICY, CALENDAR, case.now)
    check(sla.response, case.response)
    check(sla.resolution, case.resolution)


def test_breached_from_the_first_microsecond_after_due() -> None:
    # Friday 17:30 + 1 h -> Monday 09:30; 09:30:00.000001 is past it
    sla = evaluate(FRIDAY_1730_P1, POLICY, CALENDAR, t(3, 16, 9, 30, us=1))
    assert sla.response.state is BREACHED
    assert sla.response.remaining == -US


def test_what_the_ticket_was_as_of_now() -> None:
    before = evaluate(P4_RAISED_TO_P1, POLICY, CALENDAR, t(3, 10, 11))
    after = evaluate(P4_RAISED_TO_P1, POLICY, CALENDAR, t(3, 10, 12))
    assert (before.priority, after.priority) == (P4, P1)
    assert after.severity is MAJOR
    assert after.plan == "enterprise"
    assert evaluate(PENDING_OVER_WEEKEND, POLICY, CALENDAR, t(3, 14)).status is Status.PENDING
    assert evaluate(PENDING_OVER_WEEKEND, POLICY, CALENDAR, t(3, 16)).status is Status.OPEN


def test_stopped_at_and_flags() -> None:
    sla = evaluate(RESOLVED_THEN_REOPENED, POLICY, CALENDAR, t(3, 10, 15))
    assert sla.response.stopped_at == t(3, 9, 10)
    assert sla.resolution.stopped_at == t(3, 10, 12)
    assert sla.resolution.stopped
    assert not sla.resolution.running
    reopened_sla = evaluate(RESOLVED_THEN_REOPENED, POLICY, CALENDAR, t(3, 11, 11))
    assert reopened_sla.resolution.stopped_at is None
    assert reopened_sla.resolution.running
    paused = evaluate(PENDING_OVER_WEEKEND, POLICY, CALENDAR, t(3, 14)).resolution
    # paused with 30 h of 45 h left: the threshold is 11h15, so not at risk either
    assert paused.paused
    assert not paused.running
    assert not paused.stopped
    assert not paused.at_risk


def test_paused_clock_near_its_target_is_still_shown_paused() -> None:
    # P1 blocking, 4 h: pending at 12:30 after 3h30 -> 30 min left (at risk), but
    # waiting on the customer is what the agent must see
    history: list[Event] = [*MONDAY_0900_P1, Responded(t(3, 9, 9, 5)), pending(t(3, 9, 12, 30))]
    clock = evaluate(history, POLICY, CALENDAR, t(3, 9, 15)).resolution
    assert clock.state is PAUSED
    assert clock.at_risk
    assert clock.remaining == h(minutes=30)
    assert clock.due is None


def test_breached_while_pending_stays_breached() -> None:
    # 5 h before going pending, 4 h target
    history: list[Event] = [*MONDAY_0900_P1, Responded(t(3, 9, 9, 5)), pending(t(3, 9, 14))]
    clock = evaluate(history, POLICY, CALENDAR, t(3, 9, 15)).resolution
    assert clock.state is BREACHED
    assert clock.paused
    assert clock.remaining == h(-1)


# -- history order and malformed histories -----------------------------------


@pytest.mark.parametrize(
    "history",
    [
        list(reversed(RESOLVED_THEN_REOPENED)),
        [RESOLVED_THEN_REOPENED[i] for i in (2, 0, 3, 1)],
        [RESOLVED_THEN_REOPENED[i] for i in (0, 3, 1, 2)],
    ],
    ids=["reversed", "shuffled", "creation-first-rest-shuffled"],
)
def test_out_of_order_history_is_sorted(history: list[Event]) -> None:
    # same expectations as "reopened-elapsed-continues"
    sla = evaluate(history, POLICY, CALENDAR, t(3, 11, 11))
    check(sla.response, Expect(MET, h(1), h(8), t(3, 9, 18)))
    check(sla.resolution, Expect(RUNNING, h(14), h(31), t(3, 16, 15)))


def test_an_event_listed_after_a_later_one_still_counts() -> None:
    # the resolution comes after "now" but is listed before the response, which does not
    history = [*MONDAY_0900_P1, resolved(t(3, 9, 15)), Responded(t(3, 9, 9, 30))]
    now = t(3, 9, 10)
    sla = evaluate(history, POLICY, CALENDAR, now)
    assert sla.response.state is ClockStatus.MET
    assert sla.response.stopped_at == t(3, 9, 9, 30)
    assert sla == evaluate(sorted(history, key=lambda e: e.at), POLICY, CALENDAR, now)


@pytest.mark.parametrize(
    ("history", "now"),
    [
        ([], t(3, 9, 10)),
        ([Responded(t(3, 9, 9))], t(3, 9, 10)),
        ([Responded(t(3, 9, 8)), *MONDAY_0900_P1], t(3, 9, 10)),  # before creation
        ([*MONDAY_0900_P1, Responded(t(3, 9, 8))], t(3, 9, 10)),
        ([*MONDAY_0900_P1, new(t(3, 9, 9, 30), P2, MAJOR)], t(3, 9, 10)),  # created twice
        (MONDAY_0900_P1, t(3, 9, 8)),  # asked before the ticket existed
    ],
    ids=[
        "empty",
        "no-creation",
        "event-first",
        "event-before-creation",
        "two-creations",
        "now-before",
    ],
)
def test_unusable_history_raises(history: list[Event], now: dt.datetime) -> None:
    with pytest.raises(HistoryError):
        evaluate(history, POLICY, CALENDAR, now)


def test_configurable_at_risk_rule() -> None:
    # half the target, no minimum: a 4 h resolution target is at risk from 2 h left
    base = default_policy()
    policy = SlaPolicy(
        "strict",
        base.calendar,
        base.targets,
        at_risk_fraction=0.5,
        at_risk_minimum=dt.timedelta(0),
    )
    # 09:00 -> 11:00 = 2 h of 4 h; 1 h target response: 30 min = 50 % at 10:30 ...
    at_eleven = evaluate(MONDAY_0900_P1, policy, CALENDAR, t(3, 9, 11)).resolution
    assert at_eleven.state is AT_RISK
    before = evaluate(MONDAY_0900_P1, policy, CALENDAR, t(3, 9, 10, 59)).resolution
    assert before.state is RUNNING
    # ... and with the default rule 2 h left of 4 h is not at risk (threshold 1 h)
    assert evaluate(MONDAY_0900_P1, POLICY, CALENDAR, t(3, 9, 11)).resolution.state is RUNNING


def test_policy_with_explicit_plan_targets() -> None:
    targets = {(p, s): Targets(h(1), h(2)) for p in Priority for s in Severity}
    policy = SlaPolicy("flat", "x", {"gold": targets})
    sla = evaluate([new(t(3, 9, 9), P4, MINOR, "gold")], policy, CALENDAR, t(3, 9, 9, 45))
    # 45 min of 1 h: 15 min <= 30 min minimum -> at risk; due 10:00
    check(sla.response, Expect(AT_RISK, h(minutes=45), h(minutes=15), t(3, 9, 10)))
