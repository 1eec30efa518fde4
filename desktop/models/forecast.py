"""Where open tickets' SLA stands at an instant, and where it will stand if nothing moves.

A ticket is *breached* once a clock is past its target, *at risk* once a running
clock's remaining time is at most the policy's threshold, and *forecast to
breach* when a running clock breaches within :data:`FORECAST_HORIZON` of
business time.  All three follow from two business positions a ticket's
evaluation gives (:func:`desktop.models.queue.facts.thresholds_of`): from where
it is at risk, and from where it is breached; they hold whenever computed, so
flags at a later instant need no evaluation (:class:`ClockSnapshot`).

The team lead's workload counts on the positions the queue keeps for every
ticket.  The reassignment dialog evaluates the few tickets it shows here
(:func:`preview_move`, :func:`evaluate_tickets`).

No Qt here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from desktop.models.queue.facts import ALWAYS, NEVER, thresholds_of
from desktop.models.sla_cells import SlaRules, events_from_history
from i18n import gettext, ngettext
from sla.calendar import BusinessCalendar, duration_to_us, to_us
from sla.events import Event, Status
from sla.queue import evaluate_many
from sync.cache import Cache

__all__ = [
    "FORECAST_HORIZON",
    "SOON",
    "ClockSnapshot",
    "MovePreview",
    "OpenTicket",
    "TicketFlags",
    "evaluate_tickets",
    "forecast_from",
    "forecasts_from",
    "load_open_tickets",
    "preview_move",
    "snapshot",
]

#: The forecast looks this far ahead, in business time.
FORECAST_HORIZON: Final = dt.timedelta(hours=4)
_HORIZON_US: Final = duration_to_us(FORECAST_HORIZON)
#: "will breach within the hour" in the reassignment preview, in business time.
SOON: Final = dt.timedelta(hours=1)
_SOON_US: Final = duration_to_us(SOON)


def forecast_from(breached_from: int) -> int:
    """The business position from which a ticket breached from ``breached_from`` is
    forecast to breach (a running clock breaches within the horizon)."""
    if breached_from in (NEVER, ALWAYS):
        return breached_from
    return breached_from - _HORIZON_US


def forecasts_from(breached_from: Iterable[int]) -> list[int]:
    """:func:`forecast_from` of each (inlined: a workload's tens of thousands)."""
    horizon = _HORIZON_US
    return [b if b in (NEVER, ALWAYS) else b - horizon for b in breached_from]


@dataclass(frozen=True, slots=True)
class OpenTicket:
    """An open ticket with its SLA events, to evaluate on its own.

    Not :class:`sync.queries.OpenTicketRow`: in place of the raw SLA inputs it
    reads (creation, priority, severity, plan), it carries the events its
    history gives, which the read API does not interpret.
    """

    id: int
    team_id: int
    assignee_id: int | None
    status: str
    events: list[Event]


def load_open_tickets(
    cache: Cache, *, team_ids: Iterable[int] | None = None, ticket_ids: Iterable[int] | None = None
) -> list[OpenTicket]:
    """Open tickets (not resolved or closed) of ``team_ids`` (None: all) or of ``ticket_ids``,
    with their SLA events, by id, in a few bulk reads."""
    with cache.snapshot() as reading:
        rows = reading.open_tickets(team_ids=team_ids, ticket_ids=ticket_ids)
        history = reading.sla_history([row.id for row in rows])
    return [
        OpenTicket(
            row.id,
            row.team_id,
            row.assignee_id,
            row.status,
            events_from_history(
                history[row.id],
                created_at=row.created_at,
                priority=row.priority,
                severity=row.severity,
                plan=row.plan,
            ),
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class TicketFlags:
    """Where one open ticket's SLA stands, as of one instant."""

    breached: bool
    at_risk: bool
    pending: bool
    #: not breached now, and a running clock breaches within the forecast horizon
    forecast: bool
    #: not breached now, and a running clock breaches within :data:`SOON`
    soon: bool


@dataclass(frozen=True, slots=True)
class ClockSnapshot:
    """Some tickets evaluated at one business position: from where each is at risk and
    breached, enough to know their flags at any later instant without replaying their
    histories (while nothing happens to a ticket, its running clocks' due positions
    stay where they are)."""

    calendar: BusinessCalendar
    position_us: int
    ids: tuple[int, ...]
    pending: tuple[bool, ...]
    #: per ticket: the business positions from which it is at risk and breached
    limits: tuple[tuple[int, int], ...]

    def thresholds(self) -> list[tuple[int, int, int]]:
        """Per ticket, the business positions from which it is (at risk, breached,
        forecast to breach), if nothing happens to it: the flags of :meth:`flags` at
        a position ``p`` are ``at_risk = a <= p < b``, ``breached = b <= p`` and
        ``forecast = f <= p < b`` (``a <= b`` and ``f <= b``), so a table can count
        them at any instant by binary search, without a pass over the tickets."""
        return [(at_risk, breached, forecast_from(breached)) for at_risk, breached in self.limits]

    def position_at(self, now: dt.datetime) -> int:
        """The business position of ``now``, never before the snapshot's."""
        return max(self.position_us, self.calendar.position_us(to_us(now)))

    def flags(self, now: dt.datetime) -> list[TicketFlags]:
        """Every ticket's flags at ``now`` (at or after the snapshot), by arithmetic."""
        position = self.position_at(now)
        flags: list[TicketFlags] = []
        for pending, (at_risk, breached_from) in zip(self.pending, self.limits, strict=True):
            breached = breached_from <= position
            flags.append(
                TicketFlags(
                    breached=breached,
                    at_risk=not breached and at_risk <= position,
                    pending=pending,
                    forecast=not breached and forecast_from(breached_from) <= position,
                    soon=not breached and breached_from - _SOON_US <= position,
                )
            )
        return flags


def snapshot(tickets: Sequence[OpenTicket], rules: SlaRules, now: dt.datetime) -> ClockSnapshot:
    """Every ticket evaluated at ``now`` (or at its latest event, if our clock is
    behind it), with :func:`sla.queue.evaluate_many`."""
    latest = max((max(event.at for event in ticket.events) for ticket in tickets), default=now)
    at = max(now, latest)
    slas = evaluate_many([ticket.events for ticket in tickets], rules.policy, rules.calendar, at)
    return ClockSnapshot(
        rules.calendar,
        rules.calendar.position_us(to_us(at)),
        tuple(ticket.id for ticket in tickets),
        tuple(ticket.status == Status.PENDING.value for ticket in tickets),
        tuple(thresholds_of(sla) for sla in slas),
    )


def evaluate_tickets(
    tickets: Sequence[OpenTicket], rules: SlaRules, now: dt.datetime
) -> list[TicketFlags]:
    """The flags of each ticket at ``now``."""
    return snapshot(tickets, rules, now).flags(now)


# -- the reassignment preview ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MovePreview:
    """What a reassignment does: how many tickets move, and how their SLA stands."""

    count: int
    breached: int
    soon: int
    forecast: int

    def text(self) -> str:
        """ "3 tickets, 1 will breach within the hour", and so on."""
        parts = [ngettext("{count} ticket", "{count} tickets", self.count).format(count=self.count)]
        if self.breached:
            parts.append(
                ngettext(
                    "{count} already breached", "{count} already breached", self.breached
                ).format(count=self.breached)
            )
        if self.soon:
            parts.append(
                ngettext(
                    "{count} will breach within the hour",
                    "{count} will breach within the hour",
                    self.soon,
                ).format(count=self.soon)
            )
        later = self.forecast - self.soon
        if later:
            parts.append(
                ngettext(
                    "{count} more within 4 business hours",
                    "{count} more within 4 business hours",
                    later,
                ).format(count=later)
            )
        if len(parts) == 1 and self.count:
            parts.append(gettext("none at risk of breaching soon"))
        return ", ".join(parts)


def preview_move(
    cache: Cache, ticket_ids: Iterable[int], rules: SlaRules, now: dt.datetime
) -> MovePreview:
    """The SLA of the tickets about to move, computed with :mod:`sla` from the cache."""
    wanted = list(dict.fromkeys(ticket_ids))
    tickets = load_open_tickets(cache, ticket_ids=wanted)
    flags = evaluate_tickets(tickets, rules, now)
    return MovePreview(
        count=len(wanted),
        breached=sum(f.breached for f in flags),
        soon=sum(f.soon for f in flags),
        forecast=sum(f.forecast for f in flags),
    )
