"""What the queue keeps of each ticket's clocks: the same whichever way it was evaluated,
and enough to tell where a ticket stands later without evaluating it again."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from desktop.models.forecast import FORECAST_HORIZON, forecast_from, load_open_tickets, snapshot
from desktop.models.queue.facts import ALWAYS, NEVER, due_key, facts_of, unpack_due_key
from sla.calendar import duration_to_us, from_us, to_us
from sla.clock import ClockStatus, evaluate
from sync.cache import Cache
from tests.queue.conftest import T0, FakeClock, read_queue

MIN = dt.timedelta(minutes=1)
ROOT = Path(__file__).resolve().parents[2]


def test_facts_kept_from_columns_are_each_tickets_own_evaluation(
    demo: Cache, clock: FakeClock
) -> None:
    # many tickets at once (sla.queue.QueueSla's columns) or one at a time: the same
    # order, states, next change and thresholds, as time passes (at risk, breached,
    # the evening close, the morning)
    queue = read_queue(demo, clock, eager_limit=0)
    clocks, rules = queue.clocks, queue.rules
    slots = list(range(len(queue.columns)))
    for later in (0, 7, 95, 9 * 60, 23 * 60 + 30):
        clock.now = T0 + later * MIN
        clocks.move_to(queue.now(), same_histories=False)
        clocks.evaluate(slots)
        each = [
            facts_of(evaluate(events, rules.policy, rules.calendar, clocks.now), clocks.now_us)
            for events in clocks.events_of(slots)
        ]
        assert [clocks.facts(slot) for slot in slots] == each
    assert clocks.problems == {}


def test_a_due_key_unpacks_to_the_order_it_packs() -> None:
    for key in [(0, 3, -5_000), (0, 0, 10**15), (1, 10**15, 0), (2, -7, 0), (3, 0, 0)]:
        for slot in (0, 1, 99_999):
            assert unpack_due_key(due_key(key, slot)) == key
    keys = [(0, 1, 5), (0, 1, 9), (0, 2, 0), (1, -3, 0), (1, 4, 0), (2, 0, 0), (3, 0, 0)]
    packed = [due_key(key, slot) for slot, key in enumerate(keys)]
    assert packed == sorted(packed)  # most overdue first, then by due, paused, stopped


def test_where_a_ticket_is_at_risk_and_breached_tells_its_states_later(
    demo: Cache, clock: FakeClock
) -> None:
    # evaluated once, at T0: from the two positions alone, the ticket's flags at any
    # later instant are those of a fresh evaluation then (nothing happening meanwhile)
    queue = read_queue(demo, clock)
    clocks, rules = queue.clocks, queue.rules
    calendar = rules.calendar
    histories = clocks.events_of(range(len(queue.columns)))
    seen: set[tuple[bool, bool]] = set()
    for later in (0, 20, 95, 4 * 60, 9 * 60, 30 * 60, 5 * 24 * 60):
        when = T0 + later * MIN
        position = calendar.position_us(to_us(when))
        for slot, history in enumerate(histories):
            sla = evaluate(history, rules.policy, calendar, when)
            states = {sla.response.state, sla.resolution.state}
            breached = clocks.breached_from[slot] <= position
            at_risk = not breached and clocks.at_risk_from[slot] <= position
            assert breached == (ClockStatus.BREACHED in states)
            assert at_risk == (not breached and ClockStatus.AT_RISK in states)
            seen.add((breached, at_risk))
    assert seen == {(False, False), (True, False), (False, True)}


def test_a_forecast_is_a_breach_within_four_business_hours(demo: Cache) -> None:
    assert forecast_from(NEVER) == NEVER
    assert forecast_from(ALWAYS) == ALWAYS
    assert forecast_from(10**12) == 10**12 - duration_to_us(FORECAST_HORIZON)
    shot = snapshot(load_open_tickets(demo), read_queue(demo, FakeClock(T0)).rules, T0)
    calendar = shot.calendar
    tickets = {ticket.id: ticket for ticket in load_open_tickets(demo)}
    policy = read_queue(demo, FakeClock(T0)).rules.policy
    forecasts = 0
    for hours in (0, 3, 10):
        now = T0 + dt.timedelta(hours=hours)
        position = shot.position_at(now)
        horizon = from_us(
            calendar.locate_us(position + duration_to_us(FORECAST_HORIZON)), calendar.zone
        )
        for ticket_id, flags in zip(shot.ids, shot.flags(now), strict=True):
            later = evaluate(tickets[ticket_id].events, policy, calendar, horizon)
            breached_later = ClockStatus.BREACHED in (later.response.state, later.resolution.state)
            assert flags.forecast == (breached_later and not flags.breached)
            forecasts += flags.forecast
    assert forecasts > 3


@pytest.mark.slow
def test_importing_the_queues_plain_parts_loads_no_qt() -> None:
    code = (
        "import sys\n"
        "import desktop.models.queue.state, desktop.models.queue.wakeups\n"
        "import desktop.models.forecast\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] == 'PySide6')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == ""
