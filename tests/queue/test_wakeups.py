"""When the queue's clocks are brought to their new state: the tickets on screen to the
second, the others together at the off-screen step, a mass change in slices."""

from __future__ import annotations

import datetime as dt

import pytest

import desktop.models.queue.wakeups as wakeups_module
from desktop.models.queue.wakeups import WakeUps
from sla.calendar import to_us
from sync.cache import Cache
from tests.queue.conftest import FakeClock, read_queue

#: 17:59:50 in Paris on the demo's Monday: every running clock stops at 18:00.
EVENING = dt.datetime(2026, 3, 2, 16, 59, 50, tzinfo=dt.UTC)


def test_clocks_off_screen_wait_for_the_step_those_on_screen_do_not(
    demo: Cache, clock: FakeClock
) -> None:
    clock.now = EVENING
    queue = read_queue(demo, clock)
    clocks = queue.clocks
    wake_ups = WakeUps(queue.columns, clocks)
    running = [s for s in range(len(queue.columns)) if clocks.wake[s] >= 0]
    assert len(running) > 20
    shown = running[:5]
    # 18:00:01 in Paris, the next off-screen step a minute away
    wake_ups.off_screen_due = to_us(EVENING) + 60_000_000
    clocks.move_to(EVENING + dt.timedelta(seconds=11), same_histories=True)
    woken, step = wake_ups.due(shown)
    assert not step
    assert woken == shown  # the screen follows to the second
    moved = wake_ups.wake(woken)
    assert set(moved) <= {queue.columns.ids[s] for s in shown}
    assert wake_ups.held_states == {queue.columns.slot_of[i] for i in moved}
    # at the step, the others, together
    clocks.move_to(EVENING + dt.timedelta(seconds=61), same_histories=True)
    woken, step = wake_ups.due(shown)
    assert step
    assert set(woken) == set(running) - set(shown)
    wake_ups.wake(woken)
    held_states, _held_keys = wake_ups.take_held()
    assert held_states
    assert wake_ups.take_held() == (set(), {})
    fresh = read_queue(demo, FakeClock(clocks.now))
    assert [clocks.states(s) for s in running] == [fresh.clocks.states(s) for s in running]


def test_clocks_changing_state_at_once_are_taken_in_slices(
    demo: Cache, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wakeups_module, "_WAKE_SLICE", 7)
    clock.now = EVENING
    queue = read_queue(demo, clock)
    clocks = queue.clocks
    wake_ups = WakeUps(queue.columns, clocks)
    clocks.move_to(EVENING + dt.timedelta(seconds=11), same_histories=True)
    woken, step = wake_ups.due([])
    assert step
    assert len(woken) == 7
    assert wake_ups.backlog
    sizes = [len(woken)]
    wake_ups.wake(woken)
    while wake_ups.backlog:
        woken = wake_ups.next_slice()
        sizes.append(len(woken))
        wake_ups.wake(woken)
    assert len(sizes) > 2
    assert max(sizes) == 7
    assert wake_ups.next_instants() == [wake_ups.off_screen_due]  # rows to move at the step
    wake_ups.take_held()
    upcoming = wake_ups.next_instants()
    assert upcoming
    assert upcoming[0] >= wake_ups.off_screen_due
