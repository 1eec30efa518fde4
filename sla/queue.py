"""The SLA state of a whole queue at one instant: many tickets, one evaluation.

A console's queue sorts and filters 100,000 tickets on their clocks.
:class:`QueueSla` keeps their state in columns (arrays, one entry a ticket),
built by one loop that fuses :mod:`sla.clock`'s evaluation of a ticket with the
state and due instant of its clocks; :func:`evaluate_many` evaluates many
tickets in full.  Both share the work on ``now`` and pause the cycle collector.
"""

from __future__ import annotations

import datetime as dt
from array import array
from collections.abc import Iterable, Sequence
from typing import Final

from sla.calendar import MEMO_BUCKET_US, BusinessCalendar, SpanMemo, duration_to_us, to_us
from sla.clock import (
    ClockKind,
    ClockStatus,
    TicketSla,
    crossing,
    evaluate_us,
    in_order,
    running_change_us,
)
from sla.collector import collector_paused
from sla.events import (
    Created,
    Event,
    PriorityChanged,
    Responded,
    SeverityChanged,
    Status,
    StatusChanged,
)
from sla.policy import Priority, Rules, Severity, SlaPolicy

__all__ = ["NO_DUE", "QueueSla", "evaluate_many"]


def evaluate_many(
    histories: Iterable[Sequence[Event]],
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    now: dt.datetime,
) -> list[TicketSla]:
    """:func:`~sla.clock.evaluate` for many tickets at one instant (shares the work on ``now``)."""
    now_us = to_us(now)
    now_pos = calendar.position_us(now_us)
    with collector_paused():
        return [evaluate_us(history, policy, calendar, now_us, now_pos) for history in histories]


#: ``QueueSla`` due arrays hold this where a clock has no due instant (paused).
NO_DUE: Final = -(2**63)
_STATUS_CODES: Final = {status: code for code, status in enumerate(ClockStatus)}
_STATUSES: Final = tuple(ClockStatus)
_PRIORITY_CODES: Final = {priority: code for code, priority in enumerate(Priority)}


class QueueSla:
    """The SLA state of a whole queue at one instant, in columns.

    For each clock: the state (its index in :class:`~sla.clock.ClockStatus`),
    the remaining business time, the due instant (microseconds since the epoch;
    :data:`NO_DUE` while paused) and the policy's at-risk threshold for its
    target (the remaining business time at or below which a running clock is at
    risk, as :attr:`~sla.clock.ClockState.risk_us`); for each ticket, its
    priority as of now (its index in :class:`~sla.policy.Priority`) and the next
    instant its clocks change (:meth:`~sla.clock.TicketSla.next_change_us` to
    ``granularity``; -1: none).  One array entry a ticket and no Python object a
    ticket, so a queue of 100,000 tickets sorts and filters on them cheaply.
    :meth:`ticket` gives the full :class:`~sla.clock.TicketSla` of one row (for
    the rows on screen).
    """

    __slots__ = (
        "_calendar",
        "_histories",
        "_now_pos",
        "_policy",
        "next_change_us",
        "now_us",
        "priority",
        "resolution_due_us",
        "resolution_remaining_us",
        "resolution_risk_us",
        "resolution_state",
        "response_due_us",
        "response_remaining_us",
        "response_risk_us",
        "response_state",
    )

    def __init__(
        self,
        histories: Sequence[Sequence[Event]],
        policy: SlaPolicy,
        calendar: BusinessCalendar,
        now: dt.datetime,
        granularity: dt.timedelta | None = dt.timedelta(minutes=1),
    ) -> None:
        """``granularity``: of the next change of the time shown (None: of state only)."""
        self._histories = histories
        self._policy = policy
        self._calendar = calendar
        self.now_us = now_us = to_us(now)
        self._now_pos = now_pos = calendar.position_us(now_us)
        with collector_paused():
            (
                self.response_state,
                self.resolution_state,
                self.response_remaining_us,
                self.resolution_remaining_us,
                self.response_due_us,
                self.resolution_due_us,
                self.priority,
                self.next_change_us,
                self.response_risk_us,
                self.resolution_risk_us,
            ) = _queue_columns(
                histories,
                policy,
                calendar,
                now_us,
                now_pos,
                None if granularity is None else duration_to_us(granularity),
            )

    def __len__(self) -> int:
        return len(self.response_state)

    def state(self, row: int, kind: ClockKind) -> ClockStatus:
        codes = self.response_state if kind is ClockKind.RESPONSE else self.resolution_state
        return _STATUSES[codes[row]]

    def ticket(self, row: int) -> TicketSla:
        """Both clocks of one row, in full."""
        return evaluate_us(
            self._histories[row], self._policy, self._calendar, self.now_us, self._now_pos
        )


_Columns = tuple[
    bytearray,
    bytearray,
    "array[int]",
    "array[int]",
    "array[int]",
    "array[int]",
    bytearray,
    "array[int]",
    "array[int]",
    "array[int]",
]


def _queue_columns(  # noqa: C901 - fused for speed (bench_sla): split, it pays calls per ticket
    histories: Iterable[Sequence[Event]],
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    now_us: int,
    now_pos: int,
    granularity_us: int | None,
) -> _Columns:
    """The columns of :class:`QueueSla`: :func:`~sla.clock.evaluate_us`, then
    :meth:`~sla.clock.ClockState.state_given` and
    :attr:`~sla.clock.ClockState.due_us` of both clocks, fused into one loop on
    integers that builds no object a ticket.

    A history off the common path (empty, out of order, created after ``now``
    or before the calendar's horizon, created twice) goes through
    :func:`~sla.clock.evaluate_us` itself, so it is sorted, or raises, exactly as there.
    """
    columns: _Columns = (
        bytearray(),
        bytearray(),
        array("q"),
        array("q"),
        array("q"),
        array("q"),
        bytearray(),
        array("q"),
        array("q"),
        array("q"),
    )
    add_response_state = columns[0].append
    add_resolution_state = columns[1].append
    add_response_remaining = columns[2].append
    add_resolution_remaining = columns[3].append
    add_response_due = columns[4].append
    add_resolution_due = columns[5].append
    add_priority = columns[6].append
    add_change = columns[7].append
    add_response_risk = columns[8].append
    add_resolution_risk = columns[9].append

    # the index's two searches, memoised by the hour and inlined (see SpanMemo):
    # every instant looked up lies between a creation and now, both in the horizon
    index = calendar.index()
    lo = index.lo
    memo = SpanMemo(index)
    instant_spans = memo.instants.get
    instant_span = memo.instant_span
    position_spans = memo.positions.get
    position_span = memo.position_span
    bucket = MEMO_BUCKET_US
    locate_us = calendar.locate_us
    codes = _STATUS_CODES
    met = codes[ClockStatus.MET]
    missed = codes[ClockStatus.MISSED]
    breached = codes[ClockStatus.BREACHED]
    paused = codes[ClockStatus.PAUSED]
    at_risk = codes[ClockStatus.AT_RISK]
    now_open = calendar.is_open_us(now_us)
    idle = codes[ClockStatus.RUNNING if now_open else ClockStatus.OUTSIDE_HOURS]
    # a running clock next changes when the calendar opens, or by running_change_us
    close_us = calendar.next_close_us(now_us) if now_open else -1
    open_us = -1 if now_open else calendar.next_open_us(now_us)
    priority_codes = _PRIORITY_CODES
    resolved_status, closed_status, pending_status = Status.RESOLVED, Status.CLOSED, Status.PENDING
    rules_of = policy.rules
    rules_cache: dict[tuple[str, Priority, Severity], Rules] = {}

    for history in histories:
        created = history[0] if history else None
        if type(created) is not Created or not lo <= created.at_us <= now_us:
            _append_columns(
                evaluate_us(history, policy, calendar, now_us, now_pos),
                now_open,
                granularity_us,
                columns,
            )
            continue
        at = created_us = created.at_us
        start, end, before, after = instant_spans(at // bucket) or instant_span(at)
        created_pos = before if at <= start else before + at - start if at < end else after
        priority = created.priority
        severity = created.severity
        # first-response clock: stopped at a position (-1: running), target then
        response_stop_pos = -1
        response_priority, response_severity = priority, severity
        # resolution clock: running since an instant and position (-1: not running),
        # the spans it ran, the position it stopped at (-1: not stopped), target then
        since = created_us
        since_pos = created_pos
        segments: list[tuple[int, int, int, int]] = []
        elapsed = 0
        stop_pos = -1
        stop_priority, stop_severity = priority, severity

        plain = True
        previous = created_us
        events = iter(history)
        next(events)  # the creation
        for event in events:
            at = event.at_us
            if at < previous:
                plain = False
                break
            previous = at
            if at > now_us:
                plain = in_order(history)
                break
            kind = type(event)  # final classes: identity is isinstance, faster
            if kind is StatusChanged:
                new = event.status  # type: ignore[union-attr]  # `kind is` does not narrow
                if new is resolved_status or new is closed_status:
                    if response_stop_pos < 0 or stop_pos < 0:
                        start, end, before, after = instant_spans(at // bucket) or instant_span(at)
                        pos = before if at <= start else before + at - start if at < end else after
                        if response_stop_pos < 0:
                            response_stop_pos = pos
                            response_priority, response_severity = priority, severity
                        if stop_pos < 0:
                            if since_pos >= 0:
                                segments.append((since, at, since_pos, pos))
                                elapsed += pos - since_pos
                                since_pos = -1
                            stop_pos = pos
                            stop_priority, stop_severity = priority, severity
                elif new is pending_status:
                    if since_pos >= 0:
                        start, end, before, after = instant_spans(at // bucket) or instant_span(at)
                        pos = before if at <= start else before + at - start if at < end else after
                        segments.append((since, at, since_pos, pos))
                        elapsed += pos - since_pos
                        since_pos = -1
                    stop_pos = -1
                elif since_pos < 0:  # new/open: resume from pending or reopen
                    start, end, before, after = instant_spans(at // bucket) or instant_span(at)
                    since = at
                    since_pos = (
                        before if at <= start else before + at - start if at < end else after
                    )
                    stop_pos = -1
            elif kind is Responded:
                if response_stop_pos < 0:
                    start, end, before, after = instant_spans(at // bucket) or instant_span(at)
                    response_stop_pos = (
                        before if at <= start else before + at - start if at < end else after
                    )
                    response_priority, response_severity = priority, severity
            elif kind is PriorityChanged:
                priority = event.priority  # type: ignore[union-attr]  # `kind is` does not narrow
            elif kind is SeverityChanged:
                severity = event.severity  # type: ignore[union-attr]  # `kind is` does not narrow
            elif kind is Created:
                plain = False  # created twice: _evaluate raises
                break
        if not plain:
            _append_columns(
                evaluate_us(history, policy, calendar, now_us, now_pos),
                now_open,
                granularity_us,
                columns,
            )
            continue

        plan = created.plan
        # first-response clock: one span, from creation to its stop or now
        if response_stop_pos < 0:
            key = (plan, priority, severity)
            reference = now_pos
        else:
            key = (plan, response_priority, response_severity)
            reference = response_stop_pos
        rules = rules_cache.get(key)
        if rules is None:
            rules = rules_cache[key] = rules_of(*key)
        target = rules.response
        remaining = target - (reference - created_pos)
        add_response_remaining(remaining)
        add_response_risk(rules.response_risk)
        if response_stop_pos >= 0:
            add_response_state(met if remaining >= 0 else missed)
        elif remaining < 0:
            add_response_state(breached)
        elif remaining <= rules.response_risk:
            add_response_state(at_risk)
        else:
            add_response_state(idle)
        if response_stop_pos >= 0:
            change = -1
        elif now_open:
            change = running_change_us(
                remaining, rules.response_risk, now_us, close_us, granularity_us
            )
        else:
            change = open_us
        if remaining > 0:  # due at the position reached with the time left
            pos = reference + remaining
            boundary, below, above = position_spans(pos // bucket) or position_span(pos)
            add_response_due(pos + (below if pos <= boundary else above))
        elif target == 0:
            add_response_due(created_us)
        else:  # the target was crossed in the one span
            add_response_due(max(created_us, locate_us(created_pos + target)))

        # resolution clock
        if since_pos >= 0:
            elapsed += now_pos - since_pos
        if stop_pos < 0:
            if key[1] is not priority or key[2] is not severity:
                key = (plan, priority, severity)
                rules = rules_cache.get(key)
                if rules is None:
                    rules = rules_cache[key] = rules_of(*key)
            reference = now_pos
        else:
            if key[1] is not stop_priority or key[2] is not stop_severity:
                key = (plan, stop_priority, stop_severity)
                rules = rules_cache.get(key)
                if rules is None:
                    rules = rules_cache[key] = rules_of(*key)
            reference = stop_pos
        target = rules.resolution
        remaining = target - elapsed
        add_resolution_remaining(remaining)
        add_resolution_risk(rules.resolution_risk)
        if stop_pos >= 0:
            add_resolution_state(met if remaining >= 0 else missed)
        elif remaining < 0:
            add_resolution_state(breached)
        elif since_pos < 0:
            add_resolution_state(paused)
        elif remaining <= rules.resolution_risk:
            add_resolution_state(at_risk)
        else:
            add_resolution_state(idle)
        if since_pos >= 0:  # running
            found = (
                running_change_us(
                    remaining, rules.resolution_risk, now_us, close_us, granularity_us
                )
                if now_open
                else open_us
            )
            if change < 0 or found < change:
                change = found
        add_change(change)
        add_priority(priority_codes[priority])
        if since_pos < 0 and stop_pos < 0:
            add_resolution_due(NO_DUE)  # paused
        elif remaining > 0:
            pos = reference + remaining
            boundary, below, above = position_spans(pos // bucket) or position_span(pos)
            add_resolution_due(pos + (below if pos <= boundary else above))
        else:
            if since_pos >= 0:
                segments.append((since, now_us, since_pos, now_pos))
            add_resolution_due(crossing(segments, target, locate_us))
    return columns


def _append_columns(
    sla: TicketSla, now_open: bool, granularity_us: int | None, columns: _Columns
) -> None:
    """One row of :class:`QueueSla`'s columns, from a ticket's evaluation."""
    response, resolution = sla.response, sla.resolution
    columns[6].append(_PRIORITY_CODES[sla.priority])
    change = sla.next_change_us(response.now_us, granularity_us)
    columns[7].append(-1 if change is None else change)
    columns[0].append(_STATUS_CODES[response.state_given(now_open)])
    columns[1].append(_STATUS_CODES[resolution.state_given(now_open)])
    columns[2].append(response.target_us - response.elapsed_us)
    columns[3].append(resolution.target_us - resolution.elapsed_us)
    due = response.due_us
    columns[4].append(NO_DUE if due is None else due)
    due = resolution.due_us
    columns[5].append(NO_DUE if due is None else due)
    columns[8].append(response.risk_us)
    columns[9].append(resolution.risk_us)
