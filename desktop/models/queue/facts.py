"""What the queue keeps of a ticket's clocks, as integers: its facts.

A ticket's facts are its place in the default order (the next SLA due), each
SLA column's sort key, both clocks' states, the instant its clocks next change
state, and the business positions from which it is at risk and breached if
nothing happens to it.  They come from an evaluation of its history
(:mod:`sla.clock`): one :class:`~sla.clock.TicketSla` (:func:`facts_of`) or a
row of a :class:`~sla.queue.QueueSla` (:func:`record_queue_facts`, the fast
path for many tickets); both give the same facts.

Every column sorts on one integer a ticket: comparing two Python ints is much
cheaper than comparing tuples.  The lowest bits hold the slot (ticket id order),
so no two keys are equal; above them, the next SLA due (the tie-breaker of most
columns), above that the column's own rank.

The positions from which a ticket is at risk and breached do not depend on the
instant of the evaluation (while nothing happens to the ticket, a running
clock's due position stays where it is): the workload counts its tickets at any
instant from them, by binary search, without evaluating anything again.

No Qt, no cache: arithmetic only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from desktop.models.sla_cells import UNKNOWN_GROUP, clock_due_us, clock_sort_key
from desktop.models.sla_memo import Facts
from sla.clock import ClockState, ClockStatus, TicketSla
from sla.policy import Priority
from sla.queue import NO_DUE, QueueSla

__all__ = [
    "ALWAYS",
    "NEVER",
    "NO_STATE",
    "STATES",
    "STATE_CODE",
    "Facts",
    "FactsSink",
    "due_key",
    "facts_of",
    "record_queue_facts",
    "states_of",
    "thresholds_of",
    "unpack_due_key",
]

#: Clock states as stored in the state columns (one byte a ticket and a clock).
STATES: Final = tuple(ClockStatus)
STATE_CODE: Final = {state: code for code, state in enumerate(STATES)}
NO_STATE: Final = 255
AT_RISK_CODE: Final = STATE_CODE[ClockStatus.AT_RISK]
BREACHED_CODE: Final = STATE_CODE[ClockStatus.BREACHED]
_STOPPED_CODES: Final = frozenset({STATE_CODE[ClockStatus.MET], STATE_CODE[ClockStatus.MISSED]})
#: Priority.rank by the priority's index in Priority (QueueSla's priority column)
_PRIORITY_RANKS: Final = tuple(priority.rank for priority in Priority)

SLOT_BITS: Final = 24
VALUE_BITS: Final = 64
VALUE_OFFSET: Final = 1 << 63
#: The bits a packed next-SLA-due key takes (a column's rank goes above them).
DUE_BITS: Final = SLOT_BITS + VALUE_BITS + 8
_LOW_64: Final = (1 << VALUE_BITS) - 1

#: A business position no clock reaches: "never" (no running clock).
NEVER: Final = 2**62
#: A business position every instant is past: "for good" (a clock paused past its target).
ALWAYS: Final = -(2**62)

#: Takes one ticket's facts field by field (slot, key, states, response key,
#: resolution key, wake, at risk from, breached from); True when its order or
#: states moved.  The fast path calls it once a ticket, without a Facts object.
FactsSink = Callable[[int, tuple[int, int, int], tuple[int, int], int, int, int, int, int], bool]


def states_of(first: int, second: int) -> tuple[ClockStatus | None, ClockStatus | None]:
    """Both clocks' states from their codes (None: not known)."""
    return (
        None if first == NO_STATE else STATES[first],
        None if second == NO_STATE else STATES[second],
    )


def due_key(key: tuple[int, int, int], slot: int) -> int:
    """``ticket_sort_key``'s (group, a, b) as one integer, the slot last."""
    group, first, second = key
    if group == 0:  # overdue: priority rank, then the most overdue
        head, value = group << 4 | first, second
    else:
        head, value = group << 4, first
    return ((head << VALUE_BITS | (value + VALUE_OFFSET)) << SLOT_BITS) | slot


def unpack_due_key(due: int) -> tuple[int, int, int]:
    """:func:`due_key`'s (group, a, b), the slot dropped."""
    packed = due >> SLOT_BITS
    value = (packed & _LOW_64) - VALUE_OFFSET
    head = packed >> VALUE_BITS
    group = head >> 4
    return (group, head & 15, value) if group == 0 else (group, value, 0)


def _clock_key(clock: ClockState | None) -> int:
    group, value = clock_sort_key(clock)
    return group << VALUE_BITS | (value + VALUE_OFFSET)


#: Both clock keys of a ticket whose clocks cannot be computed.
_NO_CLOCK_KEYS: Final = (_clock_key(None), _clock_key(None))


def thresholds_of(sla: TicketSla) -> tuple[int, int]:
    """The business positions from which the ticket is at risk and breached, if
    nothing happens to it (:data:`NEVER` when no clock runs): a running clock is
    breached once its remaining time is below zero, at risk once it is at most the
    policy's threshold; a clock paused past its target is breached for good."""
    at_risk = breached = NEVER
    for clock in (sla.response, sla.resolution):
        if clock.stopped_us is not None:
            continue
        remaining = clock.target_us - clock.elapsed_us
        if clock.paused:
            if remaining < 0:
                return ALWAYS, ALWAYS
            continue
        due = clock.reference_pos + remaining  # the position where nothing is left
        breached = min(breached, due + 1)
        at_risk = min(at_risk, due - clock.risk_us)
    return at_risk, breached


def _keys_of(sla: TicketSla) -> tuple[tuple[int, int, int], int, int]:
    """The default order's key and both clock keys, each due instant computed once
    (the same as :func:`~desktop.models.sla_cells.ticket_sort_key` and
    :func:`~desktop.models.sla_cells.clock_sort_key`, which would each compute them)."""
    overdue: list[int] = []
    running: list[int] = []
    paused: list[int] = []
    clock_keys: list[int] = []
    for clock in (sla.response, sla.resolution):
        remaining = clock.target_us - clock.elapsed_us
        if clock.stopped_us is not None:
            clock_keys.append(3 << VALUE_BITS | (clock_due_us(clock) + VALUE_OFFSET))
        elif clock.paused:
            paused.append(remaining)
            clock_keys.append(2 << VALUE_BITS | (remaining + VALUE_OFFSET))
        else:
            due = clock_due_us(clock)
            running.append(due)
            if remaining < 0:
                overdue.append(due)
                clock_keys.append(due + VALUE_OFFSET)
            else:
                clock_keys.append(1 << VALUE_BITS | (due + VALUE_OFFSET))
    if overdue:
        key = (0, sla.priority.rank, min(overdue))
    elif running:
        key = (1, min(running), 0)
    elif paused:
        key = (2, min(paused), 0)
    else:
        key = (3, 0, 0)
    return key, clock_keys[0], clock_keys[1]


def facts_of(sla: TicketSla | None, now_us: int) -> Facts:
    """The facts of one ticket's evaluation as of ``now_us`` (None: its clocks cannot
    be computed: last in the order, no state, never at risk)."""
    if sla is None:
        no_state = (NO_STATE, NO_STATE)
        return Facts((UNKNOWN_GROUP, 0, 0), no_state, *_NO_CLOCK_KEYS, -1, NEVER, NEVER)
    key, response_key, resolution_key = _keys_of(sla)
    states = (STATE_CODE[sla.response.state], STATE_CODE[sla.resolution.state])
    found = sla.next_change_us(now_us, None)  # changes of state only
    at_risk, breached = thresholds_of(sla)
    wake = -1 if found is None else found
    return Facts(key, states, response_key, resolution_key, wake, at_risk, breached)


def record_queue_facts(
    slots: Sequence[int], queue: QueueSla, now_pos: int, record: FactsSink
) -> bool:
    """Give ``record`` the facts of each ticket of ``queue`` (``slots[row]`` for row
    ``row``), the same as :func:`facts_of` of each ticket's own evaluation; True when
    an order or state moved.  ``queue`` is evaluated with state changes only (no
    granularity), as of the business position ``now_pos``."""
    moved = False
    response_states, resolution_states = queue.response_state, queue.resolution_state
    response_left, resolution_left = queue.response_remaining_us, queue.resolution_remaining_us
    response_due, resolution_due = queue.response_due_us, queue.resolution_due_us
    response_risk, resolution_risk = queue.response_risk_us, queue.resolution_risk_us
    priorities, changes = queue.priority, queue.next_change_us
    stopped, offset, ranks = _STOPPED_CODES, VALUE_OFFSET, _PRIORITY_RANKS
    for row, slot in enumerate(slots):
        response_state, resolution_state = response_states[row], resolution_states[row]
        at_risk = breached = NEVER
        # first response: stopped, else running (never paused)
        due = response_due[row]
        left = response_left[row]
        if response_state in stopped:
            response_key = 3 << 64 | (due + offset)
            overdue = running = 0
            has_running = has_overdue = False
        else:
            running = due
            has_running = True
            has_overdue = left < 0
            if has_overdue:
                response_key = due + offset
                overdue = due
            else:
                response_key = 1 << 64 | (due + offset)
                overdue = 0
            at_risk = now_pos + left - response_risk[row]
            breached = now_pos + left + 1
        # resolution: stopped, paused (no due instant) or running
        due = resolution_due[row]
        left = resolution_left[row]
        paused = False
        if resolution_state in stopped:
            resolution_key = 3 << 64 | (due + offset)
        elif due == NO_DUE:
            resolution_key = 2 << 64 | (left + offset)
            paused = True
            if left < 0:  # paused past its target: breached for good
                at_risk = breached = ALWAYS
        else:
            if not has_running or due < running:
                running = due
            has_running = True
            if left < 0:
                resolution_key = due + offset
                if not has_overdue or due < overdue:
                    overdue = due
                has_overdue = True
            else:
                resolution_key = 1 << 64 | (due + offset)
            at_risk = min(at_risk, now_pos + left - resolution_risk[row])
            breached = min(breached, now_pos + left + 1)
        if has_overdue:
            key = (0, ranks[priorities[row]], overdue)
        elif has_running:
            key = (1, running, 0)
        elif paused:
            key = (2, left, 0)
        else:
            key = (3, 0, 0)
        states = (response_state, resolution_state)
        moved = (
            record(slot, key, states, response_key, resolution_key, changes[row], at_risk, breached)
            or moved
        )
    return moved
