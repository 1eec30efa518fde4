"""The queue's clocks, evaluated: one entry a slot in columns, known lazily.

Each ticket's SLA is derived from its cached history with :mod:`sla.clock` as of
"now" (our clock corrected by the server clock offset).  What is kept of it is
its :mod:`facts <desktop.models.queue.facts>`, in columns: sort keys, both
clock states, the instant its clocks next change state, and the business
positions from which it is at risk and breached.  The queue table sorts,
filters and counts on them; the team lead's workload counts on the same
columns, so the clocks of a queue are evaluated once for both.

A ticket's clocks are evaluated when first needed (:meth:`QueueClocks.ensure`),
many at once in columns (:class:`sla.queue.QueueSla`).  Its facts then hold
until its next state change (a wake-up instant, kept in a heap) or a change of
its history.  The clocks of the rows on screen are also kept whole
(:meth:`QueueClocks.clocks`), moved forward from one tick to the next rather
than replayed.

No Qt here: the table model decides when to evaluate (on screen first, the
others in the background, in slices between events).
"""

from __future__ import annotations

import datetime as dt
import heapq
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Final

from desktop.models.queue.columns import QueueColumns, parse_instant
from desktop.models.queue.facts import (
    NEVER,
    NO_STATE,
    Facts,
    due_key,
    facts_of,
    record_queue_facts,
    states_of,
    unpack_due_key,
)
from desktop.models.sla_cells import SlaRules, evaluate_safely, evaluate_since, events_from_history
from desktop.models.sla_memo import Memo
from sla.calendar import to_us
from sla.clock import ClockStatus, TicketSla
from sla.events import Event
from sla.queue import QueueSla, evaluate_many
from sync.cache import Cache
from sync.collector import collector_paused

__all__ = ["SLICE", "Clocks", "QueueClocks"]

#: Tickets evaluated in one batch (a background slice: a few tens of milliseconds).
SLICE: Final = 1_500

#: A ticket's clocks (None when they cannot be computed) and why not.
Clocks = tuple[TicketSla | None, str | None]


class QueueClocks:
    """The evaluated clocks of the tickets of a :class:`QueueColumns`, by slot."""

    def __init__(self, cache: Cache, columns: QueueColumns, now: dt.datetime) -> None:
        self._cache = cache
        self._columns = columns
        self._rules: SlaRules | None = None
        #: the instant the clocks are evaluated as of (server time)
        self.now = now
        self.now_us = to_us(now)
        #: called when the last ticket not evaluated yet is (whoever asked for it)
        self.on_complete: Callable[[], None] | None = None
        self.reset()

    @property
    def rules(self) -> SlaRules:
        """The policy and calendar the clocks are evaluated with (the queue sets the
        cache's at each load; the contract's defaults are built only if asked first:
        building them takes a fifth of a second)."""
        if self._rules is None:
            self._rules = SlaRules.defaults()
        return self._rules

    @rules.setter
    def rules(self, rules: SlaRules) -> None:
        self._rules = rules

    def reset(self) -> None:
        """Forget every evaluation: as many slots as the columns hold, none known."""
        count = len(self._columns)
        #: each slot's SLA events, read once (None: not read yet)
        self.events: list[list[Event] | None] = [None] * count
        self.evaluated = bytearray(count)  # 1 once the slot's clocks are known
        self.unevaluated = count
        self.due: list[int] = [0] * count  # packed next-SLA-due keys (facts.due_key)
        self.response_key: list[int] = [0] * count
        self.resolution_key: list[int] = [0] * count
        self.response_state = bytearray([NO_STATE]) * count
        self.resolution_state = bytearray([NO_STATE]) * count
        self.wake = array("q", [-1]) * count  # next state change (µs), -1 for none
        #: business positions from which each ticket is at risk, breached (facts.NEVER)
        self.at_risk_from = array("q", [NEVER]) * count
        self.breached_from = array("q", [NEVER]) * count
        #: why a slot's clocks cannot be computed
        self.problems: dict[int, str] = {}
        self._wakes: list[tuple[int, int]] = []  # (instant, slot), stale entries skipped
        #: tickets with either clock in a state, by state code: counted once, then
        #: kept up to date as states move (see set_facts)
        self._state_counts: dict[int, int] = {}
        #: slots whose clock-dependent sort keys moved since the orders were mended, and
        #: their due key then (QueueOrdering finds them in its orders by bisection)
        self.moved_keys: dict[int, int] = {}
        self._current: dict[int, Clocks] = {}  # clocks as of now, whole
        self._earlier: dict[int, Clocks] = {}  # those of the instant before

    def move_to(self, now: dt.datetime, *, same_histories: bool) -> None:
        """Evaluate as of ``now`` from here on.  ``same_histories`` (a tick): the clocks
        kept whole are moved forward from the last instant instead of replayed."""
        self.now, self.now_us = now, to_us(now)
        self._earlier = self._current if same_histories else {}
        self._current = {}

    def forget_whole_clocks(self) -> None:
        """The rows on screen are others: the clocks kept whole for them go."""
        self._current = {}

    @property
    def fully_evaluated(self) -> bool:
        return self.unevaluated == 0

    # -- evaluation -------------------------------------------------------------------

    def ensure(self, slots: Iterable[int]) -> None:
        """These tickets' clocks known (evaluated now if they never were)."""
        if self.unevaluated:
            evaluated = self.evaluated
            missing = [slot for slot in slots if not evaluated[slot]]
            if missing:
                self.evaluate(missing)

    def ensure_all(self) -> None:
        if self.unevaluated:
            self.ensure(range(len(self.evaluated)))

    def unevaluated_slots(self, limit: int) -> list[int]:
        """Up to ``limit`` slots whose clocks are not known yet, in slot order."""
        found: list[int] = []
        if self.unevaluated:
            evaluated = self.evaluated
            for slot in range(len(evaluated)):
                if not evaluated[slot]:
                    found.append(slot)
                    if len(found) >= limit:
                        break
        return found

    def evaluate(self, slots: Iterable[int], keep: dict[int, Clocks] | None = None) -> bool:
        """Bring these tickets' clocks to :attr:`now`; True when an order or state moved.

        ``keep`` receives the clocks themselves (the columns keep only facts).
        """
        before = self.unevaluated
        with collector_paused():  # histories and clocks: many objects at once, no cycle
            moved = self._evaluate_many(list(slots), keep)
        if before and not self.unevaluated and self.on_complete is not None:
            self.on_complete()
        return moved

    def events_of(self, slots: Sequence[int]) -> list[list[Event]]:
        """These tickets' SLA events (their histories read once, in bulk)."""
        events, columns = self.events, self._columns
        missing = [slot for slot in slots if events[slot] is None]
        if missing:
            ids = columns.ids
            history = self._cache.sla_history([ids[slot] for slot in missing])
            for slot in missing:
                events[slot] = events_from_history(
                    history[ids[slot]],
                    created_at=parse_instant(columns.created[slot]),
                    priority=columns.priority[slot],
                    severity=columns.severity[slot],
                    plan=columns.plan(slot),
                )
        return [events[slot] or [] for slot in slots]

    def _evaluate_many(self, slots: list[int], keep: dict[int, Clocks] | None) -> bool:
        moved = False
        rules, now = self.rules, self.now
        for start in range(0, len(slots), SLICE):
            chunk = slots[start : start + SLICE]
            results: dict[int, Clocks] = {}
            simple: list[int] = []
            simple_histories: list[list[Event]] = []
            for slot, events in zip(chunk, self.events_of(chunk), strict=True):
                if events and max(event.at_us for event in events) <= self.now_us:
                    simple.append(slot)
                    simple_histories.append(events)
                else:  # an event after our "now" (a skewed clock): evaluated as of it
                    results[slot] = evaluate_safely(events, rules, now)
            if keep is None:  # the facts only: in columns, no clock object a ticket
                moved = self._record_in_columns(simple, simple_histories, results) or moved
                for slot, result in results.items():
                    moved = self.record_evaluation(slot, *result) or moved
                continue
            try:
                evaluated = evaluate_many(simple_histories, rules.policy, rules.calendar, now)
            except Exception:  # one history that cannot be replayed: each ticket on its own
                for slot, events in zip(simple, simple_histories, strict=True):
                    results[slot] = evaluate_safely(events, rules, now)
            else:
                for slot, sla in zip(simple, evaluated, strict=True):
                    results[slot] = (sla, None)
            for slot in chunk:
                moved = self.record_evaluation(slot, *results[slot]) or moved
            keep.update(results)
        return moved

    def _record_in_columns(
        self, slots: list[int], histories: list[list[Event]], one_by_one: dict[int, Clocks]
    ) -> bool:
        """Evaluate these tickets together (:class:`QueueSla`) and keep their facts; True
        when an order or state moved.  When one history cannot be replayed, each is
        evaluated on its own instead, into ``one_by_one`` (whatever went wrong with one
        is kept with it)."""
        rules = self.rules
        try:
            queue = QueueSla(histories, rules.policy, rules.calendar, self.now, granularity=None)
        except Exception:
            for slot, events in zip(slots, histories, strict=True):
                one_by_one[slot] = evaluate_safely(events, rules, self.now)
            return False
        if self.problems:
            for slot in slots:
                self.problems.pop(slot, None)
        now_pos = rules.calendar.position_us(self.now_us)
        return record_queue_facts(slots, queue, now_pos, self.set_facts)

    def record_evaluation(self, slot: int, sla: TicketSla | None, problem: str | None) -> bool:
        """Keep the facts of one ticket's evaluation (and why it failed, if it did);
        True when its order or states moved."""
        if problem is None:
            self.problems.pop(slot, None)
        else:
            self.problems[slot] = problem
        facts = facts_of(sla, self.now_us)
        return self.set_facts(
            slot,
            facts.key,
            facts.states,
            facts.response_key,
            facts.resolution_key,
            facts.wake,
            facts.at_risk_from,
            facts.breached_from,
        )

    def set_facts(
        self,
        slot: int,
        key: tuple[int, int, int],
        states: tuple[int, int],
        response_key: int,
        resolution_key: int,
        wake: int,
        at_risk_from: int,
        breached_from: int,
    ) -> bool:
        """Write one ticket's facts into the columns; True when its order or states moved.

        Notes the slots whose sort keys moved (:attr:`moved_keys`), keeps the state
        counts current and puts its next state change in the wake-up heap.
        """
        due = due_key(key, slot)
        evaluated = self.evaluated[slot]
        # the sort keys hang on the due key and the clock keys, not on the states (a
        # clock turning "at risk", the most frequent change, mends no order)
        if (
            not evaluated
            or due != self.due[slot]
            or response_key != self.response_key[slot]
            or resolution_key != self.resolution_key[slot]
        ):
            self.moved_keys.setdefault(slot, self.due[slot])
        if not evaluated:
            self.evaluated[slot] = 1
            self.unevaluated -= 1
            self._state_counts.clear()  # counted again once every clock is known
            moved = True
        else:
            response, resolution = self.response_state[slot], self.resolution_state[slot]
            moved = due != self.due[slot]
            if states[0] != response or states[1] != resolution:
                moved = True
                counts = self._state_counts
                for code in counts:
                    counts[code] += (states[0] == code or states[1] == code) - (
                        response == code or resolution == code
                    )
        self.due[slot] = due
        self.response_key[slot] = response_key
        self.resolution_key[slot] = resolution_key
        self.response_state[slot], self.resolution_state[slot] = states
        self.at_risk_from[slot] = at_risk_from
        self.breached_from[slot] = breached_from
        if wake >= 0 and wake != self.wake[slot]:
            heapq.heappush(self._wakes, (wake, slot))
        self.wake[slot] = wake
        return moved

    def forget_history(self, slot: int) -> None:
        """The ticket's history or fields changed: its events are read again."""
        self.events[slot] = None

    # -- what is known of a slot ---------------------------------------------------------

    def facts(self, slot: int) -> Facts:
        """What :meth:`set_facts` kept of an evaluated slot."""
        return Facts(
            unpack_due_key(self.due[slot]),
            (self.response_state[slot], self.resolution_state[slot]),
            self.response_key[slot],
            self.resolution_key[slot],
            self.wake[slot],
            self.at_risk_from[slot],
            self.breached_from[slot],
        )

    def clock_facts(self, slot: int) -> tuple[tuple[int, int, int], tuple[int, int]]:
        """A slot's sort keys and clock states (to tell what a re-evaluation moved)."""
        return (
            (self.due[slot], self.response_key[slot], self.resolution_key[slot]),
            (self.response_state[slot], self.resolution_state[slot]),
        )

    def states(self, slot: int) -> tuple[ClockStatus | None, ClockStatus | None]:
        return states_of(self.response_state[slot], self.resolution_state[slot])

    def state_count(self, code: int) -> int:
        """Tickets with either clock in state ``code``, counted at C speed: each state
        column becomes a bit mask (one byte 0 or 1 a ticket), the two masks are or-ed
        as integers and the bits counted.  Kept, and moved with each state change."""
        found = self._state_counts.get(code)
        if found is None:
            table = bytes(1 if value == code else 0 for value in range(256))
            first = int.from_bytes(self.response_state.translate(table), "little")
            second = int.from_bytes(self.resolution_state.translate(table), "little")
            found = self._state_counts[code] = (first | second).bit_count()
        return found

    def clocks(self, slot: int) -> Clocks:
        """Both clocks of one ticket as of :attr:`now`, whole (for the rows on screen)."""
        found = self._current.get(slot)
        if found is None:
            if not self.evaluated[slot]:
                self.evaluate([slot], keep=self._current)
                return self._current[slot]
            found = evaluate_since(
                self._earlier.get(slot), lambda: self.events_of([slot])[0], self.rules, self.now
            )
            self._current[slot] = found
        return found

    # -- wake-ups -------------------------------------------------------------------------

    @property
    def next_wake_us(self) -> int | None:
        """The first instant a clock changes state (maybe stale: a slot evaluated since)."""
        return self._wakes[0][0] if self._wakes else None

    def take_due_wakes(self, now_us: int) -> list[int]:
        """The slots whose clocks change state by ``now_us``, taken from the heap."""
        woken: list[int] = []
        wakes, wake = self._wakes, self.wake
        while wakes and wakes[0][0] <= now_us:
            instant, slot = heapq.heappop(wakes)
            if slot < len(wake) and wake[slot] == instant:
                wake[slot] = -1
                woken.append(slot)
        return woken

    def take_woken(self, slots: Iterable[int], now_us: int) -> list[int]:
        """Those of ``slots`` whose clocks change state by ``now_us`` (their entries in
        the heap go stale)."""
        wake = self.wake
        woken: list[int] = []
        for slot in slots:
            if 0 <= wake[slot] <= now_us:
                wake[slot] = -1
                woken.append(slot)
        return woken

    # -- the memo (desktop.models.sla_memo) -----------------------------------------------

    def recall(self, memo: Memo, excluded: set[int]) -> int:
        """Take the facts the memo still vouches for, except for the ``excluded`` slots:
        tickets at the same version, whose next state change is still to come.  How many."""
        c = memo.columns
        ids = self._columns.ids
        # each slot's entry: the same tickets as when it was written (the usual case)
        # line up; else by ticket id
        if c["ids"].tolist() == ids:
            entries: Iterable[int] = range(len(ids))
        else:
            where = memo.where
            entries = [where.get(ticket_id, -1) for ticket_id in ids]
        versions, wakes_at = c["versions"], c["wake"]
        group, first, second = c["group"], c["first"], c["second"]
        response_high, response_low = c["response_high"], c["response_low"]
        resolution_high, resolution_low = c["resolution_high"], c["resolution_low"]
        response_states, resolution_states = c["response_state"], c["resolution_state"]
        at_risk_at, breached_at = c["at_risk_from"], c["breached_from"]
        version, evaluated, now_us = self._columns.version, self.evaluated, self.now_us
        due, wake, wakes = self.due, self.wake, self._wakes
        response_key, resolution_key = self.response_key, self.resolution_key
        response_state, resolution_state = self.response_state, self.resolution_state
        at_risk_from, breached_from = self.at_risk_from, self.breached_from
        recalled = 0
        for slot, at in enumerate(entries):
            if at < 0 or versions[at] != version[slot] or slot in excluded:
                continue
            when = wakes_at[at]
            if 0 <= when <= now_us:
                continue  # a state changed since: evaluated again
            due[slot] = due_key((group[at], first[at], second[at]), slot)
            response_key[slot] = response_high[at] << 64 | response_low[at]
            resolution_key[slot] = resolution_high[at] << 64 | resolution_low[at]
            response_state[slot] = response_states[at]
            resolution_state[slot] = resolution_states[at]
            at_risk_from[slot] = at_risk_at[at]
            breached_from[slot] = breached_at[at]
            wake[slot] = when
            if when >= 0:
                wakes.append((when, slot))
            evaluated[slot] = 1
            recalled += 1
        heapq.heapify(wakes)
        self._state_counts.clear()
        self.unevaluated -= recalled
        return recalled

    def memo_entries(self) -> Iterator[tuple[int, int, Facts]]:
        """(ticket id, version, facts) of every ticket whose facts a later start may
        take: evaluated, without pending work (its clocks are provisional), computed."""
        columns = self._columns
        ids, version, pending = columns.ids, columns.version, columns.pending
        evaluated, problems = self.evaluated, self.problems
        return (
            (ids[slot], version[slot], self.facts(slot))
            for slot in range(len(ids))
            if evaluated[slot] and not pending[slot] and slot not in problems
        )
