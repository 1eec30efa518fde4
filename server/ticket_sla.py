"""Tickets' SLA on the server: the stored settings, and clocks replayed on every read.

Nothing about SLA is stored on a ticket: the ``created``, ``status``,
``priority``, ``severity`` and ``responded`` history entries become
:mod:`sla.events` events, evaluated with the policy and calendar of the
``sla_config`` table (the contract's defaults until someone changes them).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from protocol import ClockOut, TicketSlaOut
from server.models import SlaConfig, TicketHistory
from sla.calendar import BusinessCalendar
from sla.clock import ClockState, evaluate
from sla.history import events_from_history
from sla.policy import (
    SlaPolicy,
    calendar_from_json,
    calendar_to_json,
    default_calendar,
    default_policy,
)

__all__ = [
    "SlaSettings",
    "ensure_default_config",
    "events_from_history",
    "history_by_ticket",
    "load_settings",
    "ticket_sla",
]

_SECOND_US = 1_000_000


@dataclass(frozen=True)
class SlaSettings:
    policy: SlaPolicy
    calendar: BusinessCalendar
    updated_at: dt.datetime


@lru_cache(maxsize=8)
def _parse(policy_json: str, calendar_json: str) -> tuple[SlaPolicy, BusinessCalendar]:
    return SlaPolicy.from_json(policy_json), calendar_from_json(calendar_json)


def ensure_default_config(session: Session, now: dt.datetime) -> SlaConfig:
    """The stored configuration, creating the contract's default when there is none."""
    config = session.get(SlaConfig, 1)
    if config is None:
        config = SlaConfig(
            id=1,
            policy_json=default_policy().to_json(),
            calendar_json=calendar_to_json(default_calendar()),
            updated_at=now,
        )
        try:
            with session.begin_nested():  # another server process may be creating it now
                session.add(config)
        except IntegrityError:
            config = session.get_one(SlaConfig, 1, populate_existing=True)
    return config


def load_settings(session: Session) -> SlaSettings:
    config = session.get(SlaConfig, 1)
    if config is None:
        raise RuntimeError("the SLA configuration is missing: run `offimizer-server migrate`")
    policy, calendar = _parse(config.policy_json, config.calendar_json)
    return SlaSettings(policy, calendar, config.updated_at)


def _clock_out(clock: ClockState) -> ClockOut:
    due = clock.due
    return ClockOut(
        state=clock.state,
        target_seconds=clock.target_us // _SECOND_US,
        elapsed_seconds=clock.elapsed_us // _SECOND_US,
        remaining_seconds=clock.remaining_us // _SECOND_US,
        due=None if due is None else due.astimezone(dt.UTC),
    )


def ticket_sla(
    entries: list[TicketHistory], settings: SlaSettings, now: dt.datetime
) -> TicketSlaOut:
    events = events_from_history(entries)
    # a clock a little behind the database never makes a ticket "not yet created"
    latest = max((event.at for event in events), default=now)
    as_of = max(now, latest)
    result = evaluate(events, settings.policy, settings.calendar, as_of)
    return TicketSlaOut(
        as_of=as_of.astimezone(dt.UTC),
        plan=result.plan,
        response=_clock_out(result.response),
        resolution=_clock_out(result.resolution),
    )


def history_by_ticket(session: Session, ticket_ids: list[int]) -> dict[int, list[TicketHistory]]:
    found: dict[int, list[TicketHistory]] = {ticket_id: [] for ticket_id in ticket_ids}
    if not ticket_ids:
        return found
    for chunk_start in range(0, len(ticket_ids), 500):
        chunk = ticket_ids[chunk_start : chunk_start + 500]
        rows = session.scalars(
            select(TicketHistory)
            .where(TicketHistory.ticket_id.in_(chunk))
            .order_by(TicketHistory.ticket_id, TicketHistory.id)
        )
        for row in rows:
            found[row.ticket_id].append(row)
    return found
