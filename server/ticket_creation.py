"""Opening a ticket (``POST /tickets``), at most once per mutation id."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from sqlalchemy.orm import Session

from i18n import _
from protocol import AppliedResult, RejectReason, Role, Status, TicketCreate, TicketDetailOut
from server import changes as feed
from server.commands import REJECT_MESSAGES, mutation_reused
from server.errors import ServiceError, not_found
from server.models import AppliedMutation, Organisation, Team, Ticket, User
from server.permissions import assignable, can_see
from server.tickets import ticket_detail
from server.writer import TicketWriter


def create_ticket(
    session: Session,
    changes: feed.ChangeSet,
    user: User,
    request: TicketCreate,
    now: dt.datetime,
) -> Ticket:
    organisation = session.get(Organisation, request.organisation_id)
    if organisation is None:
        raise ServiceError(
            422,
            "invalid_organisation",
            _("There is no organisation {id}.").format(id=request.organisation_id),
            "organisation_id",
        )
    if session.get(Team, request.team_id) is None:
        raise ServiceError(
            422, "invalid_team", _("There is no team {id}.").format(id=request.team_id), "team_id"
        )
    if user.role != Role.ADMIN and request.team_id not in user.team_ids:
        raise ServiceError(
            403, "forbidden", _("You can only open tickets for your own teams."), "team_id"
        )
    if request.assignee_id is not None:
        if not assignable(session, request.team_id, request.assignee_id):
            raise ServiceError(
                422,
                "invalid_assignee",
                _(REJECT_MESSAGES[RejectReason.INVALID_ASSIGNEE]),
                "assignee_id",
            )
        if user.role == Role.AGENT and request.assignee_id != user.id:
            raise ServiceError(
                403,
                "forbidden",
                _("Only a team lead can assign a ticket to someone else."),
                "assignee_id",
            )
    year = now.astimezone(dt.UTC).year
    number = feed.take(session, f"tracking:{year}")
    tags = sorted(set(request.tags))
    ticket = Ticket(
        tracking_number=f"INC-{year}-{number:06d}",
        subject=request.subject,
        description=request.description,
        requester_name=request.requester_name,
        requester_email=str(request.requester_email),
        organisation_id=organisation.id,
        priority=request.priority.value,
        severity=request.severity.value,
        status=Status.NEW.value,
        team_id=request.team_id,
        assignee_id=request.assignee_id,
        tags=tags,
        version=0,
        created_by_id=user.id,
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    session.flush()
    if request.mutation_id is not None:
        applied = AppliedResult(mutation_id=request.mutation_id, ticket_id=ticket.id, version=1)
        session.add(
            AppliedMutation(
                mutation_id=str(request.mutation_id),
                user_id=user.id,
                ticket_id=ticket.id,
                result=applied.model_dump(mode="json"),
                created_at=now,
            )
        )
        session.flush()
    writer = TicketWriter(session, changes, ticket, user, now)
    created = {
        "status": ticket.status,
        "priority": ticket.priority,
        "severity": ticket.severity,
        "plan": organisation.plan,
        "team_id": ticket.team_id,
        "assignee_id": ticket.assignee_id,
        "tags": tags,
    }
    writer.record("created", None, json.dumps(created, sort_keys=True))
    writer.finish()
    return ticket


def created_before(
    session: Session, user: User, mutation_id: uuid.UUID, now: dt.datetime
) -> TicketDetailOut | None:
    """The ticket a creation with this mutation id made earlier, if any."""
    row = session.get(AppliedMutation, str(mutation_id))
    if row is None:
        return None
    if row.user_id != user.id:
        raise mutation_reused()
    ticket = session.get(Ticket, row.ticket_id)
    if ticket is None or not can_see(user, ticket):
        raise not_found()
    return ticket_detail(session, ticket, now)
