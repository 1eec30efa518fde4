"""What the server does, independent of HTTP: directory, tickets, commands.

Every function takes an open session inside a transaction; every change bumps
the ticket version, appends history and collects change-feed rows in a
:class:`~server.changes.ChangeSet` that the caller publishes last.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pydantic import TypeAdapter
from sqlalchemy import Table, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from i18n import N_, _
from protocol import (
    AcknowledgeCommand,
    AddCommentCommand,
    AddTagCommand,
    AppliedResult,
    AssignCommand,
    Command,
    CommandResult,
    CommentOut,
    ConflictResult,
    HistoryEntryOut,
    OrganisationOut,
    RejectedResult,
    RejectReason,
    RemoveTagCommand,
    Role,
    SetPriorityCommand,
    SetSeverityCommand,
    SetStatusCommand,
    SetTeamCommand,
    Status,
    TeamOut,
    TicketCreate,
    TicketDetailOut,
    TicketOut,
    UserOut,
)
from server import changes as feed
from server import notifications
from server.db import transaction, upsert_insert
from server.models import (
    AppliedMutation,
    Comment,
    Organisation,
    SlaConfig,
    Team,
    TeamMember,
    Ticket,
    TicketHistory,
    User,
)
from server.security import hash_password
from server.slaclock import SlaSettings, history_by_ticket, load_settings, ticket_sla

Clock = Callable[[], dt.datetime]

log = logging.getLogger(__name__)

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


class ServiceError(Exception):
    """A request that cannot be carried out; ``code`` is stable, ``message`` translated."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.headers = headers or {}
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def not_found() -> ServiceError:
    return ServiceError(404, "not_found", _("Not found."))


# -- directory ----------------------------------------------------------------


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        role=Role(user.role),
        active=user.active,
        team_ids=user.team_ids,
    )


def team_out(team: Team) -> TeamOut:
    return TeamOut(id=team.id, name=team.name, member_ids=sorted(m.user_id for m in team.members))


def organisation_out(organisation: Organisation) -> OrganisationOut:
    return OrganisationOut.model_validate(organisation, from_attributes=True)


def create_team(session: Session, changes: feed.ChangeSet, name: str) -> Team:
    team = Team(name=name)
    session.add(team)
    session.flush()
    changes.add("team", team.id, team_out(team).model_dump(mode="json"), team_id=None)
    return team


def create_organisation(
    session: Session, changes: feed.ChangeSet, name: str, plan: str
) -> Organisation:
    organisation = Organisation(name=name, plan=plan)
    session.add(organisation)
    session.flush()
    data = organisation_out(organisation).model_dump(mode="json")
    changes.add("organisation", organisation.id, data, team_id=None)
    return organisation


def create_user(
    session: Session,
    changes: feed.ChangeSet,
    now: dt.datetime,
    *,
    username: str,
    role: Role,
    password: str | None = None,
    password_hash: str | None = None,
    display_name: str = "",
    email: str = "",
    team_ids: Sequence[int] = (),
) -> User:
    """A new user; give ``password`` (hashed here, bcrypt cost 10) or a ready hash."""
    if password_hash is None:
        if not password:
            raise ValueError("a user needs a password")
        password_hash = hash_password(password)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ServiceError(
            409, "username_taken", _("The user name {name} is already taken.").format(name=username)
        )
    user = User(
        username=username,
        display_name=display_name or username,
        email=email,
        role=role.value,
        password_hash=password_hash,
        active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    for team_id in team_ids:
        team = session.get(Team, team_id)
        if team is None:
            raise ServiceError(
                404, "team_not_found", _("There is no team {id}.").format(id=team_id)
            )
        session.add(TeamMember(team_id=team_id, user_id=user.id))
    session.flush()
    session.refresh(user)
    changes.add("user", user.id, user_out(user).model_dump(mode="json"), team_id=None)
    for team_id in team_ids:
        team = session.get(Team, team_id)
        assert team is not None
        session.refresh(team)
        changes.add("team", team.id, team_out(team).model_dump(mode="json"), team_id=None)
    return user


def set_access(
    session: Session, changes: feed.ChangeSet, user: User, role: Role, team_ids: Sequence[int]
) -> None:
    """Give ``user`` the role ``role`` and exactly the teams ``team_ids``.

    The user's record and every team whose members change go to the feed: a
    console that sees its user gain a team reads the feed again from the start
    (that team's tickets lie behind its cursor), one that loses a team drops its
    tickets.
    """
    wanted = set(team_ids)
    for team_id in wanted:
        if session.get(Team, team_id) is None:
            raise ServiceError(
                404, "team_not_found", _("There is no team {id}.").format(id=team_id)
            )
    before = set(user.team_ids)
    for member in session.scalars(select(TeamMember).where(TeamMember.user_id == user.id)):
        if member.team_id not in wanted:
            session.delete(member)
    for team_id in sorted(wanted - before):
        session.add(TeamMember(team_id=team_id, user_id=user.id))
    user.role = role.value
    session.flush()
    session.refresh(user)
    changes.add("user", user.id, user_out(user).model_dump(mode="json"), team_id=None)
    for team_id in sorted(before ^ wanted):
        team = session.get(Team, team_id)
        assert team is not None
        session.refresh(team)
        changes.add("team", team.id, team_out(team).model_dump(mode="json"), team_id=None)


# -- visibility and rights ----------------------------------------------------


def visible_team_ids(user: User) -> list[int] | None:
    """The teams whose tickets ``user`` sees (``None``: all of them)."""
    return None if user.role == Role.ADMIN else user.team_ids


def can_see(user: User, ticket: Ticket) -> bool:
    return user.role == Role.ADMIN or ticket.team_id in user.team_ids


def can_edit(user: User, ticket: Ticket) -> bool:
    """Agents edit their own tickets and unassigned ones of their teams; leads their teams'."""
    if user.role == Role.ADMIN:
        return True
    if ticket.team_id not in user.team_ids:
        return False
    if user.role == Role.TEAM_LEAD:
        return True
    return ticket.assignee_id is None or ticket.assignee_id == user.id


def _assignable(session: Session, team_id: int, assignee_id: int) -> bool:
    assignee = session.get(User, assignee_id)
    return assignee is not None and assignee.active and team_id in assignee.team_ids


def may_assign(user: User, ticket: Ticket, assignee_id: int | None) -> bool:
    """Leads (and admins) reassign within the team; an agent takes or releases a ticket."""
    if not can_edit(user, ticket):
        return False
    if user.role in (Role.ADMIN, Role.TEAM_LEAD):
        return True
    return assignee_id in (None, user.id) and ticket.assignee_id in (None, user.id)


# -- wire forms ---------------------------------------------------------------


def history_out(entry: TicketHistory) -> HistoryEntryOut:
    return HistoryEntryOut.model_validate(entry, from_attributes=True)


def comment_out(comment: Comment) -> CommentOut:
    return CommentOut.model_validate(comment, from_attributes=True)


def _ticket_fields(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "tracking_number": ticket.tracking_number,
        "subject": ticket.subject,
        "description": ticket.description,
        "requester_name": ticket.requester_name,
        "requester_email": ticket.requester_email,
        "organisation_id": ticket.organisation_id,
        "priority": ticket.priority,
        "severity": ticket.severity,
        "status": ticket.status,
        "team_id": ticket.team_id,
        "assignee_id": ticket.assignee_id,
        "tags": list(ticket.tags),
        "version": ticket.version,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
    }


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


# -- reading tickets ----------------------------------------------------------


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


# -- writing tickets ----------------------------------------------------------


class TicketWriter:
    """Changes to one ticket within one transaction: history, version, feed."""

    def __init__(
        self,
        session: Session,
        changes: feed.ChangeSet,
        ticket: Ticket,
        actor: User | None,
        now: dt.datetime,
    ) -> None:
        self.session = session
        self.ticket = ticket
        self.actor = actor
        self.now = now
        self._entries: list[TicketHistory] = []
        self._comments: list[Comment] = []
        self._bumped = False
        # the ticket's group in the feed: the first writer of the transaction sets the
        # team its readers saw it in
        self._group = changes.ticket(ticket.id, team_before=ticket.team_id)

    def bump(self) -> int:
        if not self._bumped:
            self.ticket.version += 1
            self.ticket.updated_at = self.now
            self._bumped = True
        return self.ticket.version

    def record(self, field: str, before: str | None, after: str | None) -> None:
        entry = TicketHistory(
            ticket_id=self.ticket.id,
            version=self.bump(),
            actor_id=None if self.actor is None else self.actor.id,
            at=self.now,
            field=field,
            before=before,
            after=after,
        )
        self.session.add(entry)
        self._entries.append(entry)

    def comment(self, body: str, public: bool) -> Comment:
        comment = Comment(
            ticket_id=self.ticket.id,
            author_id=None if self.actor is None else self.actor.id,
            body=body,
            public=public,
            created_at=self.now,
        )
        self.session.add(comment)
        self.session.flush()
        self._comments.append(comment)
        self.record("reply" if public else "note", None, str(comment.id))
        return comment

    @property
    def changed(self) -> bool:
        return self._bumped

    def finish(self) -> None:
        """Queue the feed rows for what changed (nothing when nothing did)."""
        if not self._bumped:
            return
        self.session.flush()
        ticket, session, now, group = self.ticket, self.session, self.now, self._group
        group.team_id = ticket.team_id
        # computed once, as the ticket ends the transaction
        group.data = lambda: ticket_out(session, ticket, now).model_dump(mode="json")
        group.everything = self._everything
        for comment in self._comments:
            group.add_child("comment", comment.id, comment_out(comment).model_dump(mode="json"))
        for entry in self._entries:
            group.add_child("history", entry.id, history_out(entry).model_dump(mode="json"))

    def _everything(self) -> list[feed.Child]:
        """Every comment and history entry of the ticket: what a team it arrives in gets."""
        ticket_id = self.ticket.id
        children: list[feed.Child] = [
            ("comment", comment.id, comment_out(comment).model_dump(mode="json"))
            for comment in self.session.scalars(
                select(Comment).where(Comment.ticket_id == ticket_id).order_by(Comment.id)
            )
        ]
        children.extend(
            ("history", entry.id, history_out(entry).model_dump(mode="json"))
            for entry in history_by_ticket(self.session, [ticket_id])[ticket_id]
        )
        return children


def _responded(session: Session, ticket_id: int) -> bool:
    found = session.scalar(
        select(TicketHistory.id).where(
            TicketHistory.ticket_id == ticket_id, TicketHistory.field == "responded"
        )
    )
    return found is not None


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
        if not _assignable(session, request.team_id, request.assignee_id):
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
        raise ServiceError(
            409,
            "mutation_reused",
            _(REJECT_MESSAGES[RejectReason.MUTATION_REUSED]),
            "mutation_id",
        )
    ticket = session.get(Ticket, row.ticket_id)
    if ticket is None or not can_see(user, ticket):
        raise not_found()
    return ticket_detail(session, ticket, now)


# -- commands -----------------------------------------------------------------


def _rejected(command: Command, reason: RejectReason, msgid: str | None = None) -> RejectedResult:
    return RejectedResult(
        mutation_id=command.mutation_id,
        ticket_id=command.ticket_id,
        reason=reason,
        message=_(msgid or REJECT_MESSAGES[reason]),
    )


def may_move(user: User, ticket: Ticket) -> bool:
    """Who may move a ticket to another team (``set_team``).

    Admins move any ticket; a team lead moves the tickets of their own teams,
    to any team (the source team decides to hand it over); agents never do.
    """
    if user.role == Role.ADMIN:
        return True
    return user.role == Role.TEAM_LEAD and ticket.team_id in user.team_ids


def _move(session: Session, writer: TicketWriter, command: SetTeamCommand) -> RejectedResult | None:
    """Apply ``set_team``: the team, then the assignee (history for each that changes).

    The caller has checked :func:`may_move`.
    """
    ticket = writer.ticket
    if session.get(Team, command.team_id) is None:
        return _rejected(command, RejectReason.INVALID_TEAM)
    if command.assignee_id is not None and not _assignable(
        session, command.team_id, command.assignee_id
    ):
        return _rejected(command, RejectReason.INVALID_ASSIGNEE, _MOVE_ASSIGNEE)
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
        return _rejected(command, RejectReason.NOT_FOUND)
    if command.base_version > ticket.version:
        return _rejected(command, RejectReason.INVALID_BASE_VERSION)
    # a clash first: the rights below depend on a state the agent had not seen
    clashing = _clashes(session, command, own_versions)
    if clashing:
        return ConflictResult(
            mutation_id=command.mutation_id,
            ticket_id=ticket.id,
            fields=clashing,
            ticket=ticket_out(session, ticket, now),
        )
    is_comment = isinstance(command, AddCommentCommand)
    if isinstance(command, SetTeamCommand) and not may_move(user, ticket):
        return _rejected(command, RejectReason.FORBIDDEN, _MOVE_FORBIDDEN)
    if not is_comment and not can_edit(user, ticket):
        return _rejected(command, RejectReason.FORBIDDEN)
    if ticket.status == Status.CLOSED and not is_comment:
        return _rejected(command, RejectReason.TICKET_CLOSED)
    writer = TicketWriter(session, changes, ticket, user, now)
    if isinstance(command, SetTeamCommand):
        refused = _move(session, writer, command)
        if refused is not None:
            return refused
    elif isinstance(command, AssignCommand):
        if not may_assign(user, ticket, command.assignee_id):
            return _rejected(command, RejectReason.FORBIDDEN)
        if command.assignee_id is not None and not _assignable(
            session, ticket.team_id, command.assignee_id
        ):
            return _rejected(command, RejectReason.INVALID_ASSIGNEE)
        _assign(ticket, writer, command.assignee_id)
    elif isinstance(command, SetStatusCommand):
        if command.status.value != ticket.status:
            before_status = ticket.status
            ticket.status = command.status.value
            writer.record("status", before_status, command.status.value)
            if command.status == Status.RESOLVED:  # the requester hears of it (contract)
                notifications.queue_resolution(session, ticket, now)
    elif isinstance(command, SetPriorityCommand):
        if command.priority.value != ticket.priority:
            before_priority = ticket.priority
            ticket.priority = command.priority.value
            writer.record("priority", before_priority, command.priority.value)
    elif isinstance(command, SetSeverityCommand):
        if command.severity.value != ticket.severity:
            before_severity = ticket.severity
            ticket.severity = command.severity.value
            writer.record("severity", before_severity, command.severity.value)
    elif isinstance(command, AddCommentCommand):
        if command.public and not can_edit(user, ticket):
            return _rejected(command, RejectReason.FORBIDDEN)
        comment = writer.comment(command.body, command.public)
        if command.public:  # queued in this transaction, sent after it commits
            notifications.queue_reply(session, ticket, comment, user, now)
        if command.public and not _responded(session, ticket.id):
            writer.record("responded", None, "reply")
    elif isinstance(command, AcknowledgeCommand):
        if not _responded(session, ticket.id):
            writer.record("responded", None, "acknowledge")
    elif isinstance(command, AddTagCommand):
        if command.tag not in ticket.tags:
            ticket.tags = sorted({*ticket.tags, command.tag})
            writer.record("tag_added", None, command.tag)
    elif isinstance(command, RemoveTagCommand) and command.tag in ticket.tags:
        ticket.tags = [tag for tag in ticket.tags if tag != command.tag]
        writer.record("tag_removed", command.tag, None)
    writer.finish()
    return AppliedResult(
        mutation_id=command.mutation_id, ticket_id=ticket.id, version=ticket.version
    )


_RESULTS: Final = TypeAdapter[CommandResult](CommandResult)
_APPLIED: Final[Table] = AppliedMutation.__table__  # type: ignore[assignment]


def _stored(row: AppliedMutation) -> CommandResult:
    return _RESULTS.validate_python(row.result)


def _answer_again(existing: AppliedMutation, user_id: int, command: Command) -> CommandResult:
    """The answer to a mutation id already recorded: its stored one, if it is the user's."""
    if existing.user_id != user_id:
        return _rejected(command, RejectReason.MUTATION_REUSED)
    return _stored(existing)


def execute(
    factory: sessionmaker[Session], user_id: int, command: Command, clock: Clock
) -> CommandResult:
    """Run one command, exactly once per mutation id: a push of one (:func:`execute_batch`)."""
    return execute_batch(factory, user_id, [command], clock)[0]


def _own_version(own: dict[int, set[int]], result: CommandResult) -> None:
    """Note the ticket version an applied command of the batch produced."""
    if isinstance(result, AppliedResult):
        own.setdefault(result.ticket_id, set()).add(result.version)


def _record_mutation(
    session: Session, key: str, user_id: int, ticket_id: int, now: dt.datetime
) -> bool:
    """Insert the mutation id (empty answer); False when it is already recorded.

    ``ON CONFLICT DO NOTHING``: on PostgreSQL a concurrent re-send waits on the
    unique key until the first transaction ends, then inserts nothing, with no
    error to roll back (the batch's transaction goes on).
    """
    statement = upsert_insert(session, _APPLIED).values(
        mutation_id=key, user_id=user_id, ticket_id=ticket_id, result={}, created_at=now
    )
    inserted = (
        session.connection()
        .execute(
            statement.on_conflict_do_nothing(index_elements=["mutation_id"]).returning(
                _APPLIED.c.mutation_id
            )
        )
        .scalar_one_or_none()
    )
    return inserted is not None


def _lock_tickets(session: Session, ticket_ids: Collection[int]) -> dt.datetime | None:
    """Lock ``ticket_ids`` for the transaction, in id order; the time of their latest change.

    In id order, two pushes that touch the same tickets wait for each other in
    line, never in a circle: they cannot deadlock on them.
    """
    rows = session.execute(
        select(Ticket.updated_at)
        .where(Ticket.id.in_(sorted(set(ticket_ids))))
        .order_by(Ticket.id)
        .with_for_update()
    )
    return max((updated_at for (updated_at,) in rows), default=None)


def _execute_together(
    factory: sessionmaker[Session], user_id: int, commands: Sequence[Command], clock: Clock
) -> list[CommandResult]:
    with transaction(factory) as session:
        latest = _lock_tickets(session, {command.ticket_id for command in commands})
        # read once the tickets are ours, and never before their last change: a push that
        # waited for them is stamped after the one it waited for
        now = clock()
        if latest is not None and now < latest:
            now = latest
        user = session.get(User, user_id)
        assert user is not None
        changes = feed.ChangeSet()
        # what every command reads again, held for the batch (the session's identity
        # map holds objects weakly: unheld, each would be loaded again a command)
        held = [
            session.get(SlaConfig, 1),
            *session.scalars(
                select(Organisation).where(
                    Organisation.id.in_(
                        select(Ticket.organisation_id).where(
                            Ticket.id.in_({command.ticket_id for command in commands})
                        )
                    )
                )
            ),
        ]
        own: dict[int, set[int]] = {}
        results: list[CommandResult] = []
        for command in commands:
            key = str(command.mutation_id)
            result: CommandResult
            if _record_mutation(session, key, user_id, command.ticket_id, now):
                result = apply_command(
                    session,
                    changes,
                    user,
                    command,
                    now,
                    own_versions=own.get(command.ticket_id, ()),
                )
                session.connection().execute(
                    update(_APPLIED)
                    .where(_APPLIED.c.mutation_id == key)
                    .values(result=result.model_dump(mode="json"))
                )
            else:
                existing = session.scalars(
                    select(AppliedMutation)
                    .where(AppliedMutation.mutation_id == key)
                    .execution_options(populate_existing=True)
                ).one()
                result = _answer_again(existing, user_id, command)
            _own_version(own, result)
            results.append(result)
        changes.publish(session, now)  # the feed counter is locked only now, until commit
        del held
    return results


#: SQLSTATEs of a transaction PostgreSQL gave up to let others go on: run it again
_TRANSIENT: Final = frozenset({"40001", "40P01"})  # serialization failure, deadlock
#: runs of a push, at most, before it is answered 503
PUSH_ATTEMPTS: Final = 5
#: the first pause between two runs, in seconds (doubled each time; full jitter)
_FIRST_PAUSE: Final = 0.02
_BUSY = N_("The server is busy with other changes to these tickets; try again in a moment.")
#: how a push waits before it runs again (tests replace it)
pause: Callable[[float], None] = time.sleep


def _transient(error: DBAPIError) -> bool:
    return getattr(error.orig, "sqlstate", None) in _TRANSIENT


def execute_batch(
    factory: sessionmaker[Session],
    user_id: int,
    commands: Sequence[Command],
    clock: Clock,
    *,
    jitter: Callable[[], float] = random.random,
) -> list[CommandResult]:
    """Run a push's commands in order, exactly once per mutation id, and answer each.

    They share one transaction (one commit, one lock of the feed counter, one
    set of feed rows) but each is applied, refused or found in conflict on its
    own: a refused command writes nothing, and a failure rolls back the whole
    batch, which the client re-sends (its mutation ids make that harmless).
    Earlier commands of the batch are the author's own changes, never a clash
    for the later ones (see :func:`_clashes`).

    The push first locks its tickets in id order, then its mutation ids, and the
    feed counter last, as every writer does: pushes do not deadlock one another.
    Its time is read once its tickets are locked (see :func:`_execute_together`),
    so a ticket's history never goes back in time as its versions go up.  Should
    PostgreSQL still cancel it (a deadlock with another kind of writer, a
    serialization failure), it runs again after a jittered pause, up to
    :data:`PUSH_ATTEMPTS` times in all; then the answer is 503 with Retry-After.
    """
    for attempt in range(PUSH_ATTEMPTS):
        try:
            return _execute_together(factory, user_id, commands, clock)
        except DBAPIError as error:
            if not _transient(error):
                raise
            log.info("push cancelled by the database (%s), attempt %d", error.orig, attempt + 1)
            if attempt + 1 < PUSH_ATTEMPTS:
                pause(jitter() * _FIRST_PAUSE * 2**attempt)
    raise ServiceError(503, "busy", _(_BUSY), headers={"Retry-After": "1"})
