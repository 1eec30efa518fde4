"""Announcements: a blocking-incident notice shown to every user.

Team leads and admins publish, edit and end them; everyone reads the active
ones.  Every change goes into the change feed (entity ``announcement``, visible
to all), so offline consoles get it on their next sync, and live consoles get an
``announcement`` event (:mod:`server.events`).
"""

import datetime as dt
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from i18n import _
from protocol import API_PREFIX, AnnouncementIn, AnnouncementOut, Role
from server import changes as feed
from server import dates
from server.commands import mutation_reused
from server.db import locked, transaction
from server.errors import ServiceError, not_found
from server.events import announcement_out
from server.models import Announcement, User
from server.router_context import RouterContext

MAX_ID = 2**31 - 1
AnnouncementId = Annotated[int, Path(ge=1, le=MAX_ID)]

_T = TypeVar("_T")


def require_lead(user: User) -> None:
    """Team leads and admins only (agents get 403)."""
    if user.role not in (Role.TEAM_LEAD, Role.ADMIN):
        raise ServiceError(403, "forbidden", _("Only team leads and administrators can do this."))


def _period(body: AnnouncementIn, now: dt.datetime) -> tuple[dt.datetime, dt.datetime | None]:
    for name, value in (("starts_at", body.starts_at), ("ends_at", body.ends_at)):
        if value is not None:
            dates.instant(value, name)
    starts = body.starts_at or now
    if body.ends_at is not None and body.ends_at <= starts:
        raise ServiceError(
            422,
            "invalid_period",
            _("The expected end must come after the start."),
            "ends_at",
        )
    return starts, body.ends_at


def _publish(changes: feed.ChangeSet, row: Announcement) -> AnnouncementOut:
    out = announcement_out(row)
    changes.add("announcement", row.id, out.model_dump(mode="json"), team_id=None)
    return out


def published_before(session: Session, user: User, body: AnnouncementIn) -> AnnouncementOut | None:
    """The announcement published earlier with ``body``'s key, if any: a console sends
    one again when it never got the answer, and must not publish it twice."""
    if body.mutation_id is None:
        return None
    row = session.scalar(
        select(Announcement).where(Announcement.mutation_id == str(body.mutation_id))
    )
    if row is None:
        return None
    if row.created_by_id != user.id:
        raise mutation_reused()
    return announcement_out(row)


def create_announcement(
    session: Session, changes: feed.ChangeSet, user: User, body: AnnouncementIn, now: dt.datetime
) -> AnnouncementOut:
    require_lead(user)
    starts, ends = _period(body, now)
    row = Announcement(
        title=body.title,
        body=body.body,
        starts_at=starts,
        ends_at=ends,
        ended_at=None,
        created_by_id=user.id,
        created_at=now,
        updated_at=now,
        version=1,
        mutation_id=None if body.mutation_id is None else str(body.mutation_id),
    )
    session.add(row)
    session.flush()
    return _publish(changes, row)


def _locked(session: Session, announcement_id: int) -> Announcement:
    row = locked(session, Announcement, announcement_id)
    if row is None:
        raise not_found()
    return row


def update_announcement(
    session: Session,
    changes: feed.ChangeSet,
    user: User,
    announcement_id: int,
    body: AnnouncementIn,
    now: dt.datetime,
) -> AnnouncementOut:
    require_lead(user)
    row = _locked(session, announcement_id)
    if row.ended_at is not None:
        raise ServiceError(
            409, "announcement_ended", _("This announcement has ended: publish a new one.")
        )
    starts, ends = _period(body, row.starts_at if body.starts_at is None else now)
    row.title = body.title
    row.body = body.body
    row.starts_at = starts
    row.ends_at = ends
    row.updated_at = now
    row.version += 1
    session.flush()
    return _publish(changes, row)


def end_announcement(
    session: Session, changes: feed.ChangeSet, user: User, announcement_id: int, now: dt.datetime
) -> AnnouncementOut:
    """End it now; ending an ended announcement changes nothing."""
    require_lead(user)
    row = _locked(session, announcement_id)
    if row.ended_at is not None:
        return announcement_out(row)
    row.ended_at = now
    row.updated_at = now
    row.version += 1
    session.flush()
    return _publish(changes, row)


def active_announcements(
    session: Session, now: dt.datetime, *, upcoming: bool = False
) -> list[AnnouncementOut]:
    """Started (or, with ``upcoming``, scheduled) and not ended, the latest start first."""
    query = select(Announcement).where(Announcement.ended_at.is_(None))
    if not upcoming:
        query = query.where(Announcement.starts_at <= now)
    rows = session.scalars(query.order_by(Announcement.starts_at.desc(), Announcement.id.desc()))
    return [announcement_out(row) for row in rows]


def make_router(context: RouterContext) -> APIRouter:
    factory, clock, authenticate = context.factory, context.clock, context.authenticate
    router = APIRouter(prefix=f"{API_PREFIX}/announcements", tags=["announcements"])
    Token = Annotated[str, Depends(context.bearer)]

    def write(token: str, change: Callable[[Session, feed.ChangeSet, User, dt.datetime], _T]) -> _T:
        now = clock()
        with transaction(factory) as session:
            user = authenticate(session, token)
            changes = feed.ChangeSet()
            result = change(session, changes, user, now)
            changes.publish(session, now)
        return result

    @router.get("", response_model=list[AnnouncementOut])
    def announcements(
        token: Token,
        upcoming: Annotated[bool, Query(description="also those scheduled to start later")] = False,
    ) -> list[AnnouncementOut]:
        with transaction(factory) as session:
            authenticate(session, token)
            return active_announcements(session, clock(), upcoming=upcoming)

    @router.get("/{announcement_id}", response_model=AnnouncementOut)
    def announcement(token: Token, announcement_id: AnnouncementId) -> AnnouncementOut:
        with transaction(factory) as session:
            authenticate(session, token)
            row = session.get(Announcement, announcement_id)
            if row is None:
                raise not_found()
            return announcement_out(row)

    @router.post("", response_model=AnnouncementOut, status_code=201)
    def publish(token: Token, body: AnnouncementIn, response: Response) -> AnnouncementOut:
        for _attempt in range(5):
            with transaction(factory) as session:
                user = authenticate(session, token)
                require_lead(user)
                earlier = published_before(session, user, body)
            if earlier is not None:  # published already: the same answer, nothing new
                response.status_code = 200
                return earlier
            try:
                return write(
                    token,
                    lambda session, changes, user, now: create_announcement(
                        session, changes, user, body, now
                    ),
                )
            except IntegrityError:
                if body.mutation_id is None:
                    raise
                # the same key committed concurrently (a re-send overtaking the first
                # try): answer with that one
        raise RuntimeError("the announcement could not be recorded")  # pragma: no cover

    @router.put("/{announcement_id}", response_model=AnnouncementOut)
    def edit(
        token: Token, announcement_id: AnnouncementId, body: AnnouncementIn
    ) -> AnnouncementOut:
        return write(
            token,
            lambda session, changes, user, now: update_announcement(
                session, changes, user, announcement_id, body, now
            ),
        )

    @router.post("/{announcement_id}/end", response_model=AnnouncementOut)
    def end(token: Token, announcement_id: AnnouncementId) -> AnnouncementOut:
        return write(
            token,
            lambda session, changes, user, now: end_announcement(
                session, changes, user, announcement_id, now
            ),
        )

    return router
