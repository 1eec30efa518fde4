"""The commands agents send (assign, set status, reply…): their rules, and applying one.

A command compares the fields it changes against the version its author saw
(:func:`_clashes`), checks the author's rights, then changes the ticket through
a :class:`~server.writer.TicketWriter`.  Recording its mutation id, so that it
runs only once, is the caller's (:mod:`server.pushes`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from i18n import N_, _
from protocol import (
    AcknowledgeCommand,
    AddCommentCommand,
    AddTagCommand,
    AppliedResult,
    AssignCommand,
    Command,
    CommandResult,
    ConflictResult,
    RejectedResult,
    RejectReason,
    RemoveTagCommand,
    SetPriorityCommand,
    SetSeverityCommand,
    SetStatusCommand,
    SetTeamCommand,
    Status,
)
from server import changes as feed
from server import notifications
from server.errors import ServiceError
from server.models import Team, Ticket, TicketHistory, User
from server.permissions import assignable, can_edit, can_see, may_assign, may_move
from server.tickets import ticket_out
from server.writer import TicketWriter

#: Fields an agent's command compares against the version it saw.
CAS_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "assign": ("assignee", "team"),
    "set_team": ("assignee", "team"),
    "set_status": ("status",),
}

REJECT_MESSAGES: Final[dict[RejectReason, str]] = {
    RejectReason.NOT_FOUND: N_("This ticket does not exist or is not visible to you."),
    RejectReason.FORBIDDEN: N_("You are not allowed to make this change to this ticket."),
    RejectReason.INVALID_ASSIGNEE: N_(
        "The ticket can only be assigned to an active member of its team."
    ),
    RejectReason.INVALID_BASE_VERSION: N_(
        "The command is based on a version of the ticket that never existed."
    ),
    RejectReason.TICKET_CLOSED: N_("The ticket is closed: only comments can still be added."),
    RejectReason.MUTATION_REUSED: N_("This mutation id was already used by another user."),
    RejectReason.INVALID_TEAM: N_("There is no such team."),
}

_MOVE_FORBIDDEN: Final = N_(
    "Only a team lead of the ticket's team or an administrator can move a ticket to another team."
)
_MOVE_ASSIGNEE: Final = N_(
    "The ticket can only be given to an active member of the team it moves to."
)


def rejected(command: Command, reason: RejectReason, msgid: str | None = None) -> RejectedResult:
    return RejectedResult(
        mutation_id=command.mutation_id,
        ticket_id=command.ticket_id,
        reason=reason,
        message=_(msgid or REJECT_MESSAGES[reason]),
    )


def mutation_reused() -> ServiceError:
    """The answer to a creation sent again under a mutation id another user sent first."""
    return ServiceError(
        409,
        "mutation_reused",
        _(REJECT_MESSAGES[RejectReason.MUTATION_REUSED]),
        "mutation_id",
    )


def _responded(session: Session, ticket_id: int) -> bool:
    found = session.scalar(
        select(TicketHistory.id).where(
            TicketHistory.ticket_id == ticket_id, TicketHistory.field == "responded"
        )
    )
    return found is not None


def _move(session: Session, writer: TicketWriter, command: SetTeamCommand) -> RejectedResult | None:
    """Apply ``set_team``: the team, then the assignee (history for each that changes).

    The caller has checked :func:`~server.permissions.may_move`.
    """
    ticket = writer.ticket
    if session.get(Team, command.team_id) is None:
        return rejected(command, RejectReason.INVALID_TEAM)
    if command.assignee_id is not None and not assignable(
        session, command.team_id, command.assignee_id
    ):
        return rejected(command, RejectReason.INVALID_ASSIGNEE, _MOVE_ASSIGNEE)
    if command.team_id != ticket.team_id:
        before_team = ticket.team_id
        ticket.team_id = command.team_id
        writer.record("team", str(before_team), str(command.team_id))
    _assign(ticket, writer, command.assignee_id)
    return None


def _assign(ticket: Ticket, writer: TicketWriter, assignee_id: int | None) -> None:
    """Give ``ticket`` to ``assignee_id`` (None: nobody), in its history if it changes."""
    if assignee_id != ticket.assignee_id:
        before = ticket.assignee_id
        ticket.assignee_id = assignee_id
        writer.record(
            "assignee",
            None if before is None else str(before),
            None if assignee_id is None else str(assignee_id),
        )


def _clashes(session: Session, command: Command, own_versions: Collection[int] = ()) -> list[str]:
    """The compare-and-set fields of ``command`` changed since the version its author saw.

    What counts is a change the author had *not seen*: one by someone else, or
    by the same user from another console.  The author's own earlier commands
    of the same push (``own_versions``: the ticket versions they produced) are
    not clashes: a push carries one console's outbox in the order its commands
    were made, each command made on top of the previous ones (an agent who sets
    "pending" then "resolved" offline sends both against the same base
    version, and means both).  A server cannot tell two consoles of one user
    apart across pushes, so only the same batch proves "same outbox" (a command
    of the batch already applied by an earlier delivery counts too); an outbox
    longer than a batch may still see a later command of a ticket reported as a
    conflict, which the console shows with the choice to re-apply it.
    """
    fields = CAS_FIELDS.get(command.type)
    if not fields:
        return []
    query = select(TicketHistory.field).where(
        TicketHistory.ticket_id == command.ticket_id,
        TicketHistory.version > command.base_version,
        TicketHistory.field.in_(fields),
    )
    if own_versions:
        query = query.where(TicketHistory.version.not_in(sorted(own_versions)))
    return sorted(session.scalars(query.distinct()))


def _refusal(user: User, ticket: Ticket, command: Command) -> RejectedResult | None:
    """Why ``user`` may not send ``command`` to ``ticket`` at all (None: they may).

    Comments are the exception: an internal note goes on any ticket its author
    sees, closed ones included (a public reply is checked in :func:`_comment`).
    """
    is_comment = isinstance(command, AddCommentCommand)
    if isinstance(command, SetTeamCommand) and not may_move(user, ticket):
        return rejected(command, RejectReason.FORBIDDEN, _MOVE_FORBIDDEN)
    if not is_comment and not can_edit(user, ticket):
        return rejected(command, RejectReason.FORBIDDEN)
    if ticket.status == Status.CLOSED and not is_comment:
        return rejected(command, RejectReason.TICKET_CLOSED)
    return None


def _reassign(
    session: Session, writer: TicketWriter, user: User, command: AssignCommand
) -> RejectedResult | None:
    """Apply ``assign``: to an active member of the ticket's team, or to nobody."""
    ticket = writer.ticket
    if not may_assign(user, ticket, command.assignee_id):
        return rejected(command, RejectReason.FORBIDDEN)
    if command.assignee_id is not None and not assignable(
        session, ticket.team_id, command.assignee_id
    ):
        return rejected(command, RejectReason.INVALID_ASSIGNEE)
    _assign(ticket, writer, command.assignee_id)
    return None


def _set_status(session: Session, writer: TicketWriter, command: SetStatusCommand) -> None:
    changed = writer.change("status", command.status.value)
    if changed and command.status == Status.RESOLVED:  # the requester hears of it (contract)
        notifications.queue_resolution(session, writer.ticket, writer.now)


def _comment(
    session: Session, writer: TicketWriter, user: User, command: AddCommentCommand
) -> RejectedResult | None:
    """Apply ``add_comment``: a public reply also answers the requester, and is the
    ticket's first response when none came before."""
    ticket = writer.ticket
    if command.public and not can_edit(user, ticket):
        return rejected(command, RejectReason.FORBIDDEN)
    comment = writer.comment(command.body, command.public)
    if command.public:  # queued in this transaction, sent after it commits
        notifications.queue_reply(session, ticket, comment, user, writer.now)
    if command.public and not _responded(session, ticket.id):
        writer.record("responded", None, "reply")
    return None


def _acknowledge(session: Session, writer: TicketWriter) -> None:
    if not _responded(session, writer.ticket.id):
        writer.record("responded", None, "acknowledge")


def _add_tag(writer: TicketWriter, tag: str) -> None:
    ticket = writer.ticket
    if tag not in ticket.tags:
        ticket.tags = sorted({*ticket.tags, tag})
        writer.record("tag_added", None, tag)


def _remove_tag(writer: TicketWriter, tag: str) -> None:
    ticket = writer.ticket
    if tag in ticket.tags:
        ticket.tags = [kept for kept in ticket.tags if kept != tag]
        writer.record("tag_removed", tag, None)


def _change(
    session: Session, writer: TicketWriter, user: User, command: Command
) -> RejectedResult | None:
    """Make the change ``command`` asks for; a refusal when this change may not be made."""
    match command:
        case SetTeamCommand():
            return _move(session, writer, command)
        case AssignCommand():
            return _reassign(session, writer, user, command)
        case AddCommentCommand():
            return _comment(session, writer, user, command)
        case SetStatusCommand():
            _set_status(session, writer, command)
        case SetPriorityCommand():
            writer.change("priority", command.priority.value)
        case SetSeverityCommand():
            writer.change("severity", command.severity.value)
        case AcknowledgeCommand():
            _acknowledge(session, writer)
        case AddTagCommand():
            _add_tag(writer, command.tag)
        case RemoveTagCommand():
            _remove_tag(writer, command.tag)
    return None


def apply_command(
    session: Session,
    changes: feed.ChangeSet,
    user: User,
    command: Command,
    now: dt.datetime,
    *,
    own_versions: Collection[int] = (),
) -> CommandResult:
    """Apply one command (the caller has recorded its mutation id).

    ``own_versions``: versions of this ticket produced by the earlier commands of
    the same push (see :func:`_clashes`).
    """
    ticket = session.scalars(
        select(Ticket)
        .where(Ticket.id == command.ticket_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if ticket is None or not can_see(user, ticket):
        return rejected(command, RejectReason.NOT_FOUND)
    if command.base_version > ticket.version:
        return rejected(command, RejectReason.INVALID_BASE_VERSION)
    # a clash first: the rights below depend on a state the agent had not seen
    clashing = _clashes(session, command, own_versions)
    if clashing:
        return ConflictResult(
            mutation_id=command.mutation_id,
            ticket_id=ticket.id,
            fields=clashing,
            ticket=ticket_out(session, ticket, now),
        )
    refusal = _refusal(user, ticket, command)
    if refusal is not None:
        return refusal
    writer = TicketWriter(session, changes, ticket, user, now)
    refusal = _change(session, writer, user, command)
    if refusal is not None:
        return refusal
    writer.finish()
    return AppliedResult(
        mutation_id=command.mutation_id, ticket_id=ticket.id, version=ticket.version
    )
