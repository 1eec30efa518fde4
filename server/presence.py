"""Who is online, and on which ticket: ``/api/v1/presence``.

A console reports "I am here (viewing or replying to this ticket)" with
``POST /api/v1/presence``; every change-feed pull also counts as "seen" for the
caller (:func:`pull_seen` / :func:`mark_seen`), so presence follows the
console's sync.  It is kept in the ``presence`` table, one row per user, so
every server process sharing the database sees the same thing.  A user not
seen for :data:`ONLINE_WINDOW` is offline; a ticket or activity reported longer
ago than that is forgotten.

Who sees whom: the users of the caller's teams (the caller included); admins
see everyone.
"""

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Query
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, sessionmaker

from protocol import API_PREFIX, MAX_ID, PresenceEntry, PresenceIn, PresenceOut, Role
from server.db import transaction, upsert_insert
from server.models import Presence, TeamMember, User
from server.router_context import RouterContext
from server.tickets import get_visible_ticket

__all__ = [
    "ONLINE_WINDOW",
    "PULL_GRANULARITY",
    "make_router",
    "mark_seen",
    "presence_out",
    "pull_marks_seen",
    "pull_seen",
    "report",
]

#: Not seen for longer than this: offline.
ONLINE_WINDOW: Final = dt.timedelta(minutes=2)
#: A pull refreshes ``last_seen_at`` only when it is older than this (fewer writes).
PULL_GRANULARITY: Final = dt.timedelta(seconds=15)


def _upsert(session: Session, values: Mapping[str, object], updates: Mapping[str, object]) -> None:
    """Insert the row of ``values["user_id"]`` or update it with ``updates`` (race-free)."""
    insert = upsert_insert(session, Presence).values(**values)
    session.execute(insert.on_conflict_do_update(index_elements=["user_id"], set_=updates))
    session.flush()


def report(session: Session, user: User, body: PresenceIn, now: dt.datetime) -> None:
    """Record "``user`` is here, on ``body.ticket_id`` doing ``body.activity``"."""
    if body.ticket_id is not None:
        get_visible_ticket(session, user, body.ticket_id)  # 404 for a ticket not theirs
    fields = {
        "last_seen_at": now,
        "ticket_id": body.ticket_id,
        "activity": None if body.ticket_id is None else body.activity,
        "activity_at": now,
    }
    _upsert(session, {"user_id": user.id, **fields}, fields)


def mark_seen(session: Session, user_id: int, now: dt.datetime) -> None:
    """``user_id`` was seen at ``now`` (what they are on is left as it was)."""
    _upsert(
        session,
        {"user_id": user_id, "last_seen_at": now},
        {"last_seen_at": now},
    )


def pull_marks_seen(last_seen_at: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether a change-feed pull at ``now`` is written down as "seen".

    Only when the user's ``last_seen_at`` is older than :data:`PULL_GRANULARITY`:
    a console polls often, and most of its polls write nothing.
    """
    return last_seen_at is None or now - last_seen_at >= PULL_GRANULARITY


def pull_seen(factory: sessionmaker[Session], user_id: int, now: dt.datetime) -> None:
    """A change-feed pull by ``user_id`` counts as "seen" (a transaction of its own:
    the pull's is read-only)."""
    with transaction(factory) as session:
        mark_seen(session, user_id, now)


def _visible_users(session: Session, user: User) -> Select[User, Presence]:
    query = select(User, Presence).join(Presence, Presence.user_id == User.id)
    query = query.where(User.active.is_(True))
    if user.role != Role.ADMIN:
        mates = select(TeamMember.user_id).where(TeamMember.team_id.in_(user.team_ids))
        query = query.where(or_(User.id == user.id, User.id.in_(mates)))
    return query


def presence_out(
    session: Session, user: User, now: dt.datetime, ticket_id: int | None = None
) -> PresenceOut:
    """The users ``user`` may see (only those online on ``ticket_id`` when given)."""
    threshold = now - ONLINE_WINDOW
    query = _visible_users(session, user)
    if ticket_id is not None:
        query = query.where(
            Presence.ticket_id == ticket_id,
            Presence.activity_at >= threshold,
            Presence.last_seen_at >= threshold,
        )
    entries: list[PresenceEntry] = []
    for member, row in session.execute(query.order_by(User.display_name, User.id)):
        online = row.last_seen_at >= threshold
        current = online and row.activity_at is not None and row.activity_at >= threshold
        entries.append(
            PresenceEntry(
                user_id=member.id,
                display_name=member.display_name,
                last_seen_at=row.last_seen_at,
                online=online,
                ticket_id=row.ticket_id if current else None,
                activity=row.activity if current else None,
            )
        )
    return PresenceOut(users=entries)


def make_router(context: RouterContext) -> APIRouter:
    factory, clock, authenticate = context.factory, context.clock, context.authenticate
    router = APIRouter(prefix=f"{API_PREFIX}/presence", tags=["presence"])
    Token = Annotated[str, Depends(context.bearer)]

    @router.post("", response_model=PresenceOut)
    def here(token: Token, body: PresenceIn) -> PresenceOut:
        """Record that the caller is here (and on which ticket); who else is."""
        now = clock()
        with transaction(factory) as session:
            user = authenticate(session, token)
            report(session, user, body, now)
            return presence_out(session, user, now)

    @router.get("", response_model=PresenceOut)
    def who(
        token: Token,
        ticket_id: Annotated[
            int | None, Query(ge=1, le=MAX_ID, description="only the users on this ticket")
        ] = None,
    ) -> PresenceOut:
        now = clock()
        with transaction(factory) as session:
            user = authenticate(session, token)
            return presence_out(session, user, now, ticket_id)

    return router
