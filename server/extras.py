"""Routes beyond tickets and sync: live events, announcements, the knowledge base,
presence, reports and account lifecycle.

:func:`install` adds them to the application made by :func:`server.app.create_app`.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from server import accounts, announcements, events, knowledge, presence, reports
from server.models import User
from server.service import Clock


def install(
    app: FastAPI,
    engine: Engine,
    factory: sessionmaker[Session],
    clock: Clock,
    bearer: Callable[..., str],
    authenticate: Callable[[Session, str], User],
    *,
    heartbeat: float = events.DEFAULT_HEARTBEAT,
) -> None:
    hub = events.EventHub(engine, heartbeat=heartbeat, clock=clock)
    app.state.events = hub
    app.include_router(events.make_router(hub, bearer, authenticate))
    app.include_router(announcements.make_router(factory, clock, bearer, authenticate))
    app.include_router(knowledge.make_router(factory, clock, bearer, authenticate))
    app.include_router(presence.make_router(factory, clock, bearer, authenticate))
    app.include_router(reports.make_router(factory, clock, bearer, authenticate))
    app.include_router(accounts.make_router(factory, clock, bearer, authenticate))
