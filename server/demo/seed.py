"""Seeding a database with the demo: the directory, then the planned tickets."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from protocol import Role
from server import changes as feed
from server.demo.corpus import ORGANISATIONS, TEAMS, USERS, slug
from server.demo.planner import DEMO_SEED, DEMO_TICKETS, Directory, plan_tickets
from server.demo.writer import write_tickets
from server.directory import create_organisation, create_team, create_user
from server.models import ChangeLog, Organisation, Team, Ticket, User
from server.security import hash_password
from server.ticket_sla import ensure_default_config, load_settings

DEMO_PASSWORD: Final = "offimizer-demo"


@dataclass(frozen=True)
class DemoSummary:
    teams: int
    users: int
    organisations: int
    tickets: int
    comments: int
    history: int
    changes: int


def database_is_empty(session: Session) -> bool:
    """No user, team, organisation or ticket yet (a fresh database)."""
    for model in (User, Team, Organisation, Ticket):
        if session.scalar(select(func.count()).select_from(model)):
            return False
    return True


def _directory(
    session: Session, now: dt.datetime, password_hash: str
) -> tuple[Directory, feed.ChangeSet]:
    changes = feed.ChangeSet()
    team_ids = [create_team(session, changes, name).id for name in TEAMS]
    organisations = [
        (create_organisation(session, changes, name, plan).id, name, plan)
        for name, plan in ORGANISATIONS
    ]
    members: dict[int, list[int]] = {team_id: [] for team_id in team_ids}
    leads: dict[int, int] = {}
    for username, display_name, role, teams in USERS:
        first, _space, last = display_name.partition(" ")
        user = create_user(
            session,
            changes,
            now,
            username=username,
            role=role,
            password_hash=password_hash,
            display_name=display_name,
            email=f"{slug(first)}.{slug(last)}@offimizer.example",
            team_ids=[team_ids[index] for index in teams],
        )
        for index in teams:
            if role == Role.TEAM_LEAD:
                leads[team_ids[index]] = user.id
            else:
                members[team_ids[index]].append(user.id)
    return Directory(team_ids, members, leads, organisations), changes


def seed_demo(
    session: Session,
    now: dt.datetime,
    *,
    seed: int = DEMO_SEED,
    tickets: int = DEMO_TICKETS,
    password_hash: str | None = None,
) -> DemoSummary:
    """Fill an empty database with the demo data, in the caller's transaction.

    Raises :class:`ValueError` when the database already holds data.
    ``password_hash`` (of :data:`DEMO_PASSWORD`) saves the bcrypt round.
    """
    if not database_is_empty(session):
        raise ValueError("the database already holds data")
    ensure_default_config(session, now)
    settings = load_settings(session)
    directory, changes = _directory(session, now, password_hash or hash_password(DEMO_PASSWORD))
    changes.publish(session, now)
    plans = plan_tickets(directory, settings, now, seed=seed, count=tickets)
    comments, history, _written = write_tickets(session, plans, settings, now)
    return DemoSummary(
        teams=len(TEAMS),
        users=len(USERS),
        organisations=len(ORGANISATIONS),
        tickets=len(plans),
        comments=comments,
        history=history,
        changes=session.scalar(select(func.count()).select_from(ChangeLog)) or 0,
    )
