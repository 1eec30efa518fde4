"""``GET /api/v1/events``: live events as Server-Sent Events (``text/event-stream``).

* ``event: changes`` with data ``{"seq": n}``: the change feed holds committed
  changes up to sequence ``n`` that the reader may see; pull the feed.  The first
  event of every stream is one of these, with the feed's current high mark: a
  client that has seen it misses no later notification of this stream.
* ``event: announcement`` with an :class:`~protocol.AnnouncementOut`.
* ``: keepalive`` comments every ``heartbeat`` seconds, so proxies keep the
  connection open.

What to send comes from the process's :class:`~server.events.EventHub`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from protocol import API_PREFIX, EventName, Role
from server.db import transaction
from server.router_context import RouterContext
from server.security import token_digest

log = logging.getLogger(__name__)


def _frame(name: str, data: Mapping[str, object], event_id: int | None = None) -> bytes:
    lines = [f"event: {name}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"data: {json.dumps(data, separators=(',', ':'))}")
    return ("\n".join(lines) + "\n\n").encode()


def make_router(context: RouterContext) -> APIRouter:
    hub, authenticate = context.events, context.authenticate
    router = APIRouter(prefix=API_PREFIX, tags=["sync"])

    def check(token: str) -> frozenset[int] | None:
        with transaction(hub.factory) as session:
            user = authenticate(session, token)
            return None if user.role == Role.ADMIN else frozenset(user.team_ids)

    @router.get(
        "/events",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
        summary="Live events (Server-Sent Events)",
        description=(
            "`changes` (data `{seq}`: pull the feed), `announcement` (data: an announcement); "
            "the first event is `changes` with the feed's current high mark."
        ),
    )
    async def events(request: Request, token: str = Depends(context.bearer)) -> StreamingResponse:
        teams = await run_in_threadpool(check, token)
        subscription = await hub.subscribe(teams, token_digest(token))
        try:
            seq = await run_in_threadpool(hub.high_mark)
        except BaseException:
            hub.unsubscribe(subscription)
            raise
        subscription.sent_seq = seq
        heartbeat = hub.heartbeat

        async def stream() -> AsyncIterator[bytes]:
            try:
                yield f"retry: {int(heartbeat * 1000) + 1000}\n\n".encode()
                yield _frame(EventName.CHANGES, {"seq": seq}, seq)
                while not subscription.ended and not await request.is_disconnected():
                    ready = await subscription.next(heartbeat)
                    if subscription.ended:
                        break
                    if ready is None:
                        yield b": keepalive\n\n"
                        continue
                    next_seq, announcements = ready
                    for data in announcements:
                        yield _frame(EventName.ANNOUNCEMENT, data)
                    if next_seq is not None:
                        yield _frame(EventName.CHANGES, {"seq": next_seq}, next_seq)
            except Exception:  # the database is gone: end it
                log.info("live events: stream ended", exc_info=True)
            finally:
                hub.unsubscribe(subscription)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return router
