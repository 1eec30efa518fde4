"""What every optional router of the API is built from (see :mod:`server.routers`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.orm import Session, sessionmaker

from server.dates import Clock
from server.events import EventHub
from server.models import User


@dataclass(frozen=True)
class RouterContext:
    """The database, the server's clock and live events, and how callers sign in.

    ``bearer`` is the FastAPI dependency that reads a request's token;
    ``authenticate`` turns a token into its user, or raises 401.
    """

    factory: sessionmaker[Session]
    clock: Clock
    bearer: Callable[[HTTPAuthorizationCredentials | None], str]
    authenticate: Callable[[Session, str], User]
    events: EventHub
