"""Reading tickets, and their wire forms (each with its SLA, derived on every read)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from protocol import CommentOut, HistoryEntryOut, Status, TicketDetailOut, TicketOut
from server.errors import not_found
from server.models import Comment, Ticket, TicketHistory, User
from server.permissions import can_see, visible_team_ids
from server.ticket_sla import SlaSettings, history_by_ticket, load_settings, ticket_sla

#: The columns of a ticket that :class:`~protocol.TicketOut` carries as they are:
#: every field of it but the SLA, which is derived from the history.
_TICKET_COLUMNS: Final = tuple(name for name in TicketOut.model_fields if name != "sla")


def history_out(entry: TicketHistory) -> HistoryEntryOut:
    return HistoryEntryOut.model_validate(entry, from_attributes=True)


def comment_out(comment: Comment) -> CommentOut:
    return CommentOut.model_validate(comment, from_attributes=True)


def _ticket_fields(ticket: Ticket) -> dict[str, Any]:
    return {name: getattr(ticket, name) for name in _TICKET_COLUMNS}


def tickets_out(
    session: Session, tickets: Sequence[Ticket], now: dt.datetime, settings: SlaSettings
) -> list[TicketOut]:
    histories = history_by_ticket(session, [ticket.id for ticket in tickets])
    return [
        TicketOut(**_ticket_fields(ticket), sla=ticket_sla(histories[ticket.id], settings, now))
        for ticket in tickets
    ]


def ticket_out(session: Session, ticket: Ticket, now: dt.datetime) -> TicketOut:
    return tickets_out(session, [ticket], now, load_settings(session))[0]


def ticket_detail(session: Session, ticket: Ticket, now: dt.datetime) -> TicketDetailOut:
    history = history_by_ticket(session, [ticket.id])[ticket.id]
    comments = session.scalars(
        select(Comment).where(Comment.ticket_id == ticket.id).order_by(Comment.id)
    )
    return TicketDetailOut(
        **_ticket_fields(ticket),
        sla=ticket_sla(history, load_settings(session), now),
        comments=[comment_out(comment) for comment in comments],
        history=[history_out(entry) for entry in history],
    )


def get_visible_ticket(session: Session, user: User, ticket_id: int) -> Ticket:
    """The ticket, or 404 when it does not exist *or* belongs to another team."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or not can_see(user, ticket):
        raise not_found()
    return ticket


@dataclass(frozen=True)
class TicketFilter:
    status: list[Status] | None = None
    team_id: int | None = None
    assignee_id: int | None = None
    unassigned: bool = False


def list_tickets(
    session: Session, user: User, where: TicketFilter, offset: int, limit: int
) -> tuple[list[Ticket], int]:
    query = select(Ticket)
    teams = visible_team_ids(user)
    if teams is not None:
        query = query.where(Ticket.team_id.in_(teams))
    if where.status:
        query = query.where(Ticket.status.in_([status.value for status in where.status]))
    if where.team_id is not None:
        query = query.where(Ticket.team_id == where.team_id)
    if where.assignee_id is not None:
        query = query.where(Ticket.assignee_id == where.assignee_id)
    if where.unassigned:
        query = query.where(Ticket.assignee_id.is_(None))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Ticket.id).offset(offset).limit(limit))
    return list(rows), total
