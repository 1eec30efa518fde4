"""Who may see and change which tickets.

Administrators see and change everything; everyone else sees their teams'
tickets only.  Within a team, agents change their own tickets and unassigned
ones; team leads change them all.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from protocol import Role
from server.models import Ticket, User


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


def assignable(session: Session, team_id: int, assignee_id: int) -> bool:
    """Whether ``assignee_id`` can hold a ticket of ``team_id``: an active member of it."""
    assignee = session.get(User, assignee_id)
    return assignee is not None and assignee.active and team_id in assignee.team_ids


def may_assign(user: User, ticket: Ticket, assignee_id: int | None) -> bool:
    """Leads (and admins) reassign within the team; an agent takes or releases a ticket."""
    if not can_edit(user, ticket):
        return False
    if user.role in (Role.ADMIN, Role.TEAM_LEAD):
        return True
    return assignee_id in (None, user.id) and ticket.assignee_id in (None, user.id)


def may_move(user: User, ticket: Ticket) -> bool:
    """Who may move a ticket to another team (``set_team``).

    Admins move any ticket; a team lead moves the tickets of their own teams,
    to any team (the source team decides to hand it over); agents never do.
    """
    if user.role == Role.ADMIN:
        return True
    return user.role == Role.TEAM_LEAD and ticket.team_id in user.team_ids
