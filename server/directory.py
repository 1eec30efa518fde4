"""The directory: users, teams and organisations, and their wire forms.

Every change goes to the change feed (the caller's :class:`~server.changes.ChangeSet`),
so consoles learn of new users and of team memberships as they sync.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from i18n import _
from protocol import OrganisationOut, Role, TeamOut, UserOut
from server import changes as feed
from server.errors import ServiceError
from server.models import Organisation, Team, TeamMember, User
from server.security import hash_password


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
