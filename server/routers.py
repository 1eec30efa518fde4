"""The optional routers of the API: live events, announcements, the knowledge base,
presence, reports and account lifecycle.

Each module offers ``make_router(context)``; :data:`ROUTERS` lists them and
:func:`install` adds them to the application made by :func:`server.app.create_app`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from fastapi import APIRouter, FastAPI

from server import accounts, announcements, event_stream, knowledge, presence, reports
from server.router_context import RouterContext

ROUTERS: Final[tuple[Callable[[RouterContext], APIRouter], ...]] = (
    event_stream.make_router,
    announcements.make_router,
    knowledge.make_router,
    presence.make_router,
    reports.make_router,
    accounts.make_router,
)


def install(app: FastAPI, context: RouterContext) -> None:
    for make_router in ROUTERS:
        app.include_router(make_router(context))
