"""When the queue's clocks are brought to their new state, and when their rows follow.

A clock changes state at its wake-up instant (at risk, breached, the calendar
closing or opening).  With 100,000 tickets some clock does every second; each
change costs a read of its history, an evaluation and the counts shown again.
So the rows on screen follow their clocks to the second, and the clocks of the
other tickets change state together, every :data:`OFF_SCREEN_STEP`.  Rows move
then too: a ticket on screen that breaches turns red at once, and takes its new
place in the order (or leaves the At risk view) at the step, with the others,
instead of the rows jumping under the agent's eyes each second.  When every
running clock changes state at once (the calendar's opening and closing), they
are taken in slices.

No Qt here: :class:`desktop.models.queue.model.QueueModel` ticks, and moves the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from desktop.models.queue.clocks import QueueClocks
from desktop.models.queue.columns import QueueColumns
from desktop.models.queue.facts import states_of
from desktop.models.sla_cells import MINUTES_GRID, on_minutes_grid
from sla.calendar import duration_to_us
from sla.clock import ClockStatus

__all__ = ["OFF_SCREEN_STEP", "WakeUps"]

#: How often the clocks of tickets not on screen are brought to their new state
#: (at risk, breached…): the counts, the views and the order follow them this
#: late at most.  On the instants of :data:`MINUTES_GRID`, with the cells that
#: show minutes.
OFF_SCREEN_STEP: Final = MINUTES_GRID
_OFF_SCREEN_STEP_US: Final = duration_to_us(OFF_SCREEN_STEP)
#: Tickets whose clocks changed state evaluated in one go, the rest in slices after
#: (a few tens of milliseconds each: each reads its history).
_WAKE_SLICE = 1_000

#: The ticket ids whose clock states moved, with the states they had before.
Moved = dict[int, tuple[ClockStatus | None, ClockStatus | None]]


class WakeUps:
    """The clocks to bring to their new state at each tick, and the rows held until
    the next off-screen step."""

    def __init__(self, columns: QueueColumns, clocks: QueueClocks) -> None:
        self._columns = columns
        self._clocks = clocks
        #: when the clocks off screen are next brought to their state
        self.off_screen_due = on_minutes_grid(clocks.now_us)
        self.forget()

    def forget(self) -> None:
        """The slots are numbered again: nothing is held."""
        #: tickets whose states (or keys: the key before) moved since the last step:
        #: their rows move at the next one
        self.held_states: set[int] = set()
        self.held_keys: dict[int, int] = {}
        #: tickets whose clocks changed state, still to evaluate
        self.backlog: list[int] = []

    def due(self, shown: Sequence[int]) -> tuple[list[int], bool]:
        """The slots whose clocks to bring to their new state now (the clocks moved to
        the tick's instant), and whether this tick is an off-screen step.  ``shown``:
        the slots on screen, which follow to the second."""
        clocks = self._clocks
        now_us = clocks.now_us
        step = now_us >= self.off_screen_due
        if not step:  # the rows on screen only (their entries in the heap go stale)
            return clocks.take_woken(shown, now_us), False
        self.off_screen_due = on_minutes_grid(now_us + _OFF_SCREEN_STEP_US)
        woken = clocks.take_due_wakes(now_us)
        if self.backlog or len(woken) > _WAKE_SLICE:
            # at the opening and closing of business hours every running clock changes
            # state at once: taken in slices, the window kept alive between them
            woken = self.backlog + woken
            self.backlog = woken[_WAKE_SLICE:]
            woken = woken[:_WAKE_SLICE]
        return woken, True

    def next_slice(self) -> list[int]:
        """The next slice of the backlog."""
        woken, self.backlog = self.backlog[:_WAKE_SLICE], self.backlog[_WAKE_SLICE:]
        return woken

    def wake(self, woken: list[int]) -> Moved:
        """Bring these tickets' clocks to their new state; the tickets whose states
        moved, with their states before (their rows are held until the next step)."""
        if not woken:
            return {}
        clocks = self._clocks
        before = [clocks.clock_facts(slot) for slot in woken]
        clocks.evaluate(woken)
        after = [clocks.clock_facts(slot) for slot in woken]
        moved: Moved = {}
        ids = self._columns.ids
        for slot, (keys, states), (keys_now, states_now) in zip(woken, before, after, strict=True):
            # most wake-ups are a clock turning "at risk": its state moves, its order not
            if states != states_now:
                self.held_states.add(slot)
                moved[ids[slot]] = states_of(*states)
            if keys != keys_now:
                self.held_keys.setdefault(slot, keys[0])  # its key before the first move
        return moved

    def take_held(self) -> tuple[set[int], dict[int, int]]:
        """The rows whose clocks moved since the last step (states; keys, with the due
        key before), to move now."""
        held = self.held_states, self.held_keys
        self.held_states, self.held_keys = set(), {}
        return held

    def next_instants(self) -> list[int]:
        """When the clocks off screen next want a tick (µs)."""
        if self.held_states or self.held_keys:  # rows to move at the next step
            return [self.off_screen_due]
        wake = self._clocks.next_wake_us
        if wake is not None:  # off screen: together, every OFF_SCREEN_STEP
            return [max(wake, self.off_screen_due)]
        return []
