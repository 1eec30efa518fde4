"""Account lifecycle: administrators disable and enable accounts.

A disabled account cannot sign in, and every token of it is revoked at once:
its requests are refused from then on and its live event streams end (see
:mod:`server.events`).  Enabling it again lets the user sign in anew.  Each
change goes into the change feed (entity ``user``), so consoles show it.

The same operations serve the API (``POST /api/v1/users/{id}/disable`` and
``/enable``, administrators only) and the ``disable-user``/``enable-user``
commands of ``offimizer-server``.
"""

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from i18n import _
from protocol import API_PREFIX, MAX_ID, Role, UserOut
from server import changes as feed
from server.db import locked, transaction
from server.directory import user_out
from server.errors import ServiceError
from server.models import AuthToken, User
from server.router_context import RouterContext

UserId = Annotated[int, Path(ge=1, le=MAX_ID)]


def set_active(
    session: Session, changes: feed.ChangeSet, user: User, active: bool, now: dt.datetime
) -> User:
    """Enable or disable ``user`` (locked by the caller); disabling revokes every
    token of theirs, even when the account was disabled already."""
    if not active:
        session.execute(
            update(AuthToken)
            .where(AuthToken.user_id == user.id, AuthToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    if user.active != active:
        user.active = active
        session.flush()
        changes.add("user", user.id, user_out(user).model_dump(mode="json"), team_id=None)
    return user


def _locked_user(session: Session, user_id: int) -> User:
    user = locked(session, User, user_id)
    if user is None:
        raise ServiceError(
            404, "user_not_found", _("There is no user {id}.").format(id=user_id), "user_id"
        )
    return user


def change_account(
    session: Session, admin: User, user_id: int, active: bool, now: dt.datetime
) -> UserOut:
    """What the API does: administrators only, and never to their own account."""
    if admin.role != Role.ADMIN:
        raise ServiceError(
            403, "forbidden", _("Only administrators can disable or enable accounts.")
        )
    if user_id == admin.id and not active:
        raise ServiceError(
            409,
            "own_account",
            _("You cannot disable your own account: ask another administrator."),
            "user_id",
        )
    changes = feed.ChangeSet()
    user = set_active(session, changes, _locked_user(session, user_id), active, now)
    changes.publish(session, now)
    return user_out(user)


def change_account_named(
    factory: sessionmaker[Session], username: str, active: bool, now: dt.datetime
) -> User:
    """What the command line does: by user name, no questions asked."""
    with transaction(factory) as session:
        user_id = session.scalar(select(User.id).where(User.username == username))
        if user_id is None:
            raise ServiceError(
                404, "user_not_found", _("There is no user named {name}.").format(name=username)
            )
        changes = feed.ChangeSet()
        user = set_active(session, changes, _locked_user(session, user_id), active, now)
        changes.publish(session, now)
        return user


def make_router(context: RouterContext) -> APIRouter:
    factory, clock, authenticate = context.factory, context.clock, context.authenticate
    router = APIRouter(prefix=f"{API_PREFIX}/users", tags=["directory"])
    Token = Annotated[str, Depends(context.bearer)]

    @router.post(
        "/{user_id}/disable",
        response_model=UserOut,
        summary="Disable an account (administrators)",
        description="It can no longer sign in; every token of it is revoked at once.",
    )
    def disable(token: Token, user_id: UserId) -> UserOut:
        with transaction(factory) as session:
            return change_account(session, authenticate(session, token), user_id, False, clock())

    @router.post(
        "/{user_id}/enable",
        response_model=UserOut,
        summary="Enable an account again (administrators)",
    )
    def enable(token: Token, user_id: UserId) -> UserOut:
        with transaction(factory) as session:
            return change_account(session, authenticate(session, token), user_id, True, clock())

    return router
